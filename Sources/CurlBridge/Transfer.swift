internal import CCurl
internal import NIOConcurrencyHelpers
public import NIOCore

/// One upstream request/response exchange, streaming in both directions with back-pressure.
///
/// Two threads touch a transfer, and each half of its state belongs to one of them:
/// - the **mailbox** (``Mailbox``, behind a lock) is shared: the request body queue, the bytes of response
///   handed to the owner but not yet consumed, the pause flags and cancellation;
/// - everything else (`easy`, the header list, the response head being parsed, the batch of events to flush) is
///   **curl-loop thread only**.
///
/// Back-pressure, response side: the write callback counts every accepted byte in `bytesInFlight`; at the high
/// watermark it returns `CURL_WRITEFUNC_PAUSE` (libcurl keeps and later redelivers that chunk). The owner reports
/// consumed bytes through ``didConsume(_:)``; at the low watermark the transfer asks the loop to unpause.
/// Request side: ``appendBody(_:)`` queues a buffer and tells the producer to hold above the high watermark; the
/// read callback pauses on an empty queue and emits ``TransferEvent/uploadDrained`` at the low watermark.
/// Both checks and flag changes happen under the one mutex, so a pause and the resume that cancels it never miss
/// each other.
public final class Transfer: @unchecked Sendable {
    // @unchecked: the mailbox is lock-guarded (`NIOLockedValueBox`, a pthread mutex that ThreadSanitizer understands; `Synchronization.Mutex` is a bare futex to it); every other stored var is confined to the curl-loop thread.

    struct Mailbox {
        var upload = CircularBuffer<ByteBuffer>()
        var uploadBytes = 0
        var isUploadFinished = false
        /// The read callback found the queue empty and paused sending.
        var isSendPaused = false
        /// ``appendBody(_:)`` told the producer to hold; the read callback owes it an `uploadDrained`.
        var isProducerHeld = false
        var bytesInFlight = 0
        /// The write callback paused receiving at the high watermark.
        var isReceivePaused = false
        var isCancelled = false
    }

    static let highWatermark = 256 * 1024
    static let lowWatermark = 64 * 1024

    let request: TransferRequest
    let sink: @Sendable ([TransferEvent]) -> Void
    let mailbox = NIOLockedValueBox(Mailbox())
    weak var loop: CurlLoop?

    // Curl-loop thread only.
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var pauseMask: Int32 = 0
    var parser = ResponseHeadParser()
    var pendingHead: TransferResponseHead?
    /// Body bytes not yet handed over: ``pendingBody`` fills until a chunk does not fit, then joins
    /// ``fullBodies`` and a new buffer takes over (twice its size, at most ``highWatermark``, at least the chunk),
    /// so no chunk is copied a second time by a reallocation.
    var pendingBody: ByteBuffer?
    var fullBodies: [ByteBuffer] = []
    var pendingDrained = false
    var pendingTerminal: TransferEvent?
    var isDirty = false
    /// The transfer completed over HTTP/1.1: its easy handle may serve the next one.
    var isReusable = false
    /// Why a callback stopped the transfer because of what the upstream sent; reported instead of libcurl's
    /// generic write error.
    var protocolFault: String?
    let allocator = ByteBufferAllocator()
    /// `CURLOPT_ERRORBUFFER`: libcurl writes the detailed cause of a failure here.
    let errorBuffer: UnsafeMutablePointer<CChar>

    init(request: TransferRequest, sink: @escaping @Sendable ([TransferEvent]) -> Void) {
        self.request = request
        self.sink = sink
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        self.errorBuffer.deallocate()
    }

    var errorText: String {
        String(cString: self.errorBuffer)
    }

    // MARK: Owner side (any thread)

    /// Queues a slice of the request body.
    /// - Returns: `true` when the producer should stop reading more body until ``TransferEvent/uploadDrained``.
    @discardableResult
    public func appendBody(_ buffer: ByteBuffer) -> Bool {
        let (unpause, hold) = self.mailbox.withLockedValue { mailbox -> (Bool, Bool) in
            // An empty buffer in the queue would make the read callback return 0: the end of the body to libcurl.
            guard !mailbox.isCancelled, buffer.readableBytes > 0 else { return (false, mailbox.isProducerHeld) }
            mailbox.upload.append(buffer)
            mailbox.uploadBytes += buffer.readableBytes
            let unpause = mailbox.isSendPaused
            mailbox.isSendPaused = false
            if mailbox.uploadBytes >= Self.highWatermark {
                mailbox.isProducerHeld = true
            }
            return (unpause, mailbox.isProducerHeld)
        }
        if unpause { self.loop?.submit(.resumeSend(self)) }
        return hold
    }

    /// Marks the end of the request body.
    public func finishBody() {
        let unpause = self.mailbox.withLockedValue { mailbox -> Bool in
            mailbox.isUploadFinished = true
            defer { mailbox.isSendPaused = false }
            return mailbox.isSendPaused
        }
        if unpause { self.loop?.submit(.resumeSend(self)) }
    }

    /// Reports that the owner has written `count` response bytes onward (their write completed), which frees
    /// room under the high watermark.
    public func didConsume(_ count: Int) {
        let resume = self.mailbox.withLockedValue { mailbox -> Bool in
            mailbox.bytesInFlight -= count
            guard mailbox.isReceivePaused, mailbox.bytesInFlight <= Self.lowWatermark else { return false }
            mailbox.isReceivePaused = false
            return true
        }
        if resume { self.loop?.submit(.resumeReceive(self)) }
    }

    /// Stops the transfer at once: libcurl drops it and its connection, and no further events are delivered.
    public func cancel() {
        let wasCancelled = self.mailbox.withLockedValue { mailbox -> Bool in
            defer { mailbox.isCancelled = true }
            return mailbox.isCancelled
        }
        if !wasCancelled { self.loop?.submit(.cancel(self)) }
    }

    /// Whether libcurl is paused because the owner has not consumed what it was given: the client is not
    /// reading.
    public var isWaitingForConsumer: Bool {
        self.mailbox.withLockedValue { $0.isReceivePaused }
    }

    var isCancelled: Bool {
        self.mailbox.withLockedValue { $0.isCancelled }
    }

    // MARK: Curl-loop thread

    func markDirty() {
        guard !self.isDirty else { return }
        self.isDirty = true
        self.loop?.markDirty(self)
    }

    /// Hands the batch gathered since the last flush to the owner: head, drain notice, body, then the end.
    func flush() {
        self.isDirty = false
        var events: [TransferEvent] = []
        events.reserveCapacity(3 + self.fullBodies.count)
        if let head = self.pendingHead {
            events.append(.head(head))
            self.pendingHead = nil
        }
        if self.pendingDrained {
            events.append(.uploadDrained)
            self.pendingDrained = false
        }
        for body in self.fullBodies { events.append(.body(body)) }
        self.fullBodies.removeAll(keepingCapacity: true)
        if let body = self.pendingBody {
            events.append(.body(body))
            self.pendingBody = nil
        }
        if let terminal = self.pendingTerminal {
            events.append(terminal)
            self.pendingTerminal = nil
        }
        guard !events.isEmpty, !self.isCancelled else { return }
        self.sink(events)
    }
}
