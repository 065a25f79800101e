import CCurl
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import CurlBridge

/// A ``Transfer`` that no ``CurlLoop`` runs: the owner-side calls and libcurl's data callbacks, invoked directly
/// through their C entry points. With no loop, the commands a call would submit (resume, cancel) go nowhere; the
/// tests read the mailbox and the pending events instead.
@Suite("Transfer back-pressure")
struct TransferTests {
    /// A transfer with no loop, and the events its `flush` delivers.
    struct Subject {
        let transfer: Transfer
        let events: NIOLockedValueBox<[[TransferEvent]]>

        var mailbox: Transfer.Mailbox { self.transfer.mailbox.withLockedValue { $0 } }

        /// Calls libcurl's write callback with `count` bytes of `byte`.
        func write(_ count: Int, byte: UInt8 = 0x61) -> Int {
            var chunk = [CChar](repeating: CChar(bitPattern: byte), count: count)
            return withExtendedLifetime(self.transfer) {
                chunk.withUnsafeMutableBufferPointer { buffer in
                    Transfer.writeCallback(buffer.baseAddress, 1, count, self.userdata)
                }
            }
        }

        /// Calls libcurl's read callback with room for `room` bytes; returns its result and the bytes it copied.
        func read(room: Int) -> (result: Int, bytes: [UInt8]) {
            var target = [CChar](repeating: 0, count: room)
            let result = withExtendedLifetime(self.transfer) {
                target.withUnsafeMutableBufferPointer { buffer in
                    Transfer.readCallback(buffer.baseAddress, 1, room, self.userdata)
                }
            }
            let copied = result <= room ? result : 0
            return (result, target[..<copied].map { UInt8(bitPattern: $0) })
        }

        /// Calls libcurl's header callback with one line.
        func header(_ line: String) -> Int {
            var bytes = Array(line.utf8CString.dropLast())
            return withExtendedLifetime(self.transfer) {
                bytes.withUnsafeMutableBufferPointer { buffer in
                    Transfer.headerCallback(buffer.baseAddress, 1, buffer.count, self.userdata)
                }
            }
        }

        /// Completes the response head as libcurl's header callback would, with status 200: the header callback
        /// itself reads the status from the easy handle, which a transfer with no loop does not have.
        func completeHead() {
            for line in ["HTTP/1.1 200 OK\r\n", "\r\n"] {
                let head = Array(line.utf8).withUnsafeBytes { self.transfer.parser.feed($0) { 200 } }
                if let head { self.transfer.pendingHead = head }
            }
        }

        private var userdata: UnsafeMutableRawPointer {
            Unmanaged.passUnretained(self.transfer).toOpaque()
        }
    }

    static func subject(body: TransferRequest.Body = .chunked) -> Subject {
        let events = NIOLockedValueBox<[[TransferEvent]]>([])
        let request = TransferRequest(method: "PUT", url: "http://127.0.0.1:1/", headers: [], body: body)
        let transfer = Transfer(request: request) { batch in events.withLockedValue { $0.append(batch) } }
        return Subject(transfer: transfer, events: events)
    }

    static let high = Transfer.highWatermark
    static let low = Transfer.lowWatermark

    /// The kind of each event, for comparing batches.
    static func kinds(_ batch: [TransferEvent]) -> [String] {
        batch.map { event in
            switch event {
            case .head(let head): "head \(head.status)"
            case .body(let buffer): "body \(buffer.readableBytes)"
            case .end: "end"
            case .failed: "failed"
            case .uploadDrained: "uploadDrained"
            }
        }
    }

    // MARK: Request body, owner side

    @Test("appendBody asks the producer to hold from the high watermark on, not before, and until the drain")
    func appendHoldsAtHighWatermark() {
        let subject = Self.subject()
        #expect(!subject.transfer.appendBody(ByteBuffer(repeating: 1, count: Self.high - 1)))
        #expect(!subject.mailbox.isProducerHeld)
        #expect(subject.transfer.appendBody(ByteBuffer(repeating: 2, count: 1)), "at the high watermark exactly")
        #expect(subject.mailbox.isProducerHeld)
        #expect(subject.transfer.appendBody(ByteBuffer(repeating: 3, count: 1)), "still held: no drain yet")
        #expect(subject.mailbox.uploadBytes == Self.high + 1)
        #expect(subject.mailbox.upload.count == 3)
    }

    @Test("a cancelled transfer drops appended body and never asks the producer to hold")
    func cancelledDropsBody() {
        let subject = Self.subject()
        subject.transfer.cancel()
        #expect(subject.transfer.isCancelled)
        #expect(!subject.transfer.appendBody(ByteBuffer(repeating: 1, count: Self.high * 2)))
        #expect(subject.mailbox.uploadBytes == 0)
        #expect(subject.mailbox.upload.isEmpty)
        #expect(!subject.mailbox.isProducerHeld)
        subject.transfer.cancel()
        #expect(subject.transfer.isCancelled, "a second cancel changes nothing")
    }

    @Test("the read callback pauses on an empty queue; appendBody and finishBody clear the pause")
    func sendPause() {
        let subject = Self.subject()
        #expect(subject.read(room: 16).result == Int(CURL_READFUNC_PAUSE))
        #expect(subject.mailbox.isSendPaused)
        #expect(subject.transfer.pauseMask & CURLPAUSE_SEND != 0)
        subject.transfer.appendBody(ByteBuffer(string: "abc"))
        #expect(!subject.mailbox.isSendPaused, "appendBody asks the loop to resume sending")
        #expect(subject.read(room: 16).bytes == Array("abc".utf8))
        #expect(subject.read(room: 16).result == Int(CURL_READFUNC_PAUSE))
        #expect(subject.mailbox.isSendPaused)
        subject.transfer.finishBody()
        #expect(!subject.mailbox.isSendPaused, "finishBody asks the loop to resume sending, to see the end")
        #expect(subject.mailbox.isUploadFinished)
        #expect(subject.read(room: 16).result == 0, "0 ends the upload")
    }

    @Test("the read callback copies queued buffers in order, splitting one across calls when room runs out")
    func sendCopiesInOrder() {
        let subject = Self.subject()
        for part in ["hello", " ", "", "world"] { subject.transfer.appendBody(ByteBuffer(string: part)) }
        subject.transfer.finishBody()
        let first = subject.read(room: 4)
        #expect(first.result == 4)
        #expect(first.bytes == Array("hell".utf8))
        #expect(subject.mailbox.uploadBytes == 7)
        let second = subject.read(room: 100)
        #expect(second.bytes == Array("o world".utf8))
        #expect(subject.mailbox.uploadBytes == 0)
        #expect(subject.mailbox.upload.isEmpty)
        #expect(subject.read(room: 100).result == 0)
    }

    @Test("a queue holding only an empty buffer is not the end of an unfinished upload")
    func emptyBufferIsNotTheEnd() {
        let subject = Self.subject()
        subject.transfer.appendBody(ByteBuffer())
        #expect(subject.read(room: 16).result == Int(CURL_READFUNC_PAUSE))
    }

    @Test("uploadDrained is emitted once, when a held producer's queue falls to the low watermark")
    func uploadDrained() throws {
        let subject = Self.subject()
        let chunk = 16 * 1024
        for _ in 0..<(Self.high / chunk) {
            subject.transfer.appendBody(ByteBuffer(repeating: 7, count: chunk))
        }
        #expect(subject.mailbox.isProducerHeld)
        var reads = 0
        while subject.mailbox.uploadBytes > Self.low {
            #expect(!subject.transfer.pendingDrained, "not drained at \(subject.mailbox.uploadBytes) bytes queued")
            #expect(subject.read(room: chunk).result == chunk)
            reads += 1
        }
        #expect(reads == (Self.high - Self.low) / chunk)
        #expect(subject.transfer.pendingDrained)
        #expect(!subject.mailbox.isProducerHeld)
        #expect(subject.transfer.isDirty)
        subject.transfer.flush()
        #expect(subject.events.withLockedValue { $0.map(Self.kinds) } == [["uploadDrained"]])
        #expect(!subject.transfer.pendingDrained)
        // The rest of the queue drains with no second notice.
        while subject.mailbox.uploadBytes > 0 { _ = subject.read(room: chunk) }
        #expect(!subject.transfer.pendingDrained)
        #expect(!subject.transfer.appendBody(ByteBuffer(repeating: 1, count: 1)), "no hold below the watermark again")
    }

    @Test("no uploadDrained when the producer was never held")
    func noDrainWithoutHold() {
        let subject = Self.subject()
        subject.transfer.appendBody(ByteBuffer(repeating: 1, count: Self.high - 1))
        while subject.mailbox.uploadBytes > 0 { _ = subject.read(room: 16 * 1024) }
        #expect(!subject.transfer.pendingDrained)
        #expect(!subject.transfer.isDirty)
    }

    // MARK: Response body, write callback

    @Test("body bytes before a complete response head fail the transfer: nothing is taken or passed on")
    func bodyBeforeHead() {
        let subject = Self.subject()
        #expect(subject.write(10) == 0, "fewer bytes than given: libcurl stops with a write error")
        #expect(subject.transfer.protocolFault != nil)
        #expect(subject.transfer.pendingBody == nil)
        #expect(subject.mailbox.bytesInFlight == 0)
        let partial = Self.subject()
        _ = partial.header("HTTP/1.1 200 OK\r\n")
        _ = partial.header("Content-Length: 10\r\n")
        #expect(partial.write(10) == 0, "a head still missing its blank line is not complete")
        #expect(partial.transfer.protocolFault != nil)
    }

    @Test("the write callback takes chunks until the high watermark, then pauses and takes nothing")
    func receivePausesAtHighWatermark() throws {
        let subject = Self.subject()
        subject.completeHead()
        let chunk = 16 * 1024
        for index in 0..<(Self.high / chunk) {
            #expect(subject.write(chunk, byte: UInt8(index)) == chunk)
        }
        #expect(subject.mailbox.bytesInFlight == Self.high)
        #expect(!subject.transfer.isWaitingForConsumer)
        #expect(subject.write(chunk) == Int(CURL_WRITEFUNC_PAUSE))
        #expect(subject.transfer.isWaitingForConsumer)
        #expect(subject.transfer.pauseMask & CURLPAUSE_RECV != 0)
        #expect(subject.mailbox.bytesInFlight == Self.high, "a paused chunk is not counted: libcurl redelivers it")
        // Full buffers are set aside whole, never grown by a reallocation: 16, 32, 64, 128 KiB, and the last.
        let buffers = subject.transfer.fullBodies + [try #require(subject.transfer.pendingBody)]
        #expect(buffers.map(\.readableBytes).reduce(0, +) == Self.high)
        #expect(buffers.allSatisfy { $0.readableBytes <= $0.capacity })
        var body = ByteBuffer()
        for var buffer in buffers { body.writeBuffer(&buffer) }
        for index in 0..<(Self.high / chunk) {
            #expect(body.getInteger(at: index * chunk, as: UInt8.self) == UInt8(index), "the chunks in order")
        }
    }

    @Test("a chunk that crosses the high watermark is taken whole; the next one pauses")
    func receiveCrossingChunk() {
        let subject = Self.subject()
        subject.completeHead()
        #expect(subject.write(Self.high - 1) == Self.high - 1)
        #expect(subject.write(100) == 100)
        #expect(subject.mailbox.bytesInFlight == Self.high + 99)
        #expect(subject.write(1) == Int(CURL_WRITEFUNC_PAUSE))
    }

    @Test("didConsume frees room; a paused receive resumes only at or below the low watermark")
    func didConsumeResumesAtLowWatermark() {
        let subject = Self.subject()
        subject.completeHead()
        #expect(subject.write(Self.high) == Self.high)
        #expect(subject.write(1) == Int(CURL_WRITEFUNC_PAUSE))
        subject.transfer.didConsume(Self.high - Self.low - 1)
        #expect(subject.mailbox.bytesInFlight == Self.low + 1)
        #expect(subject.transfer.isWaitingForConsumer, "above the low watermark: still paused")
        subject.transfer.didConsume(1)
        #expect(subject.mailbox.bytesInFlight == Self.low)
        #expect(!subject.transfer.isWaitingForConsumer, "at the low watermark: resumed")
        // Once resumed, libcurl redelivers the paused chunk and it is taken.
        #expect(subject.write(1) == 1)
        #expect(subject.mailbox.bytesInFlight == Self.low + 1)
    }

    @Test("didConsume without a pause only counts")
    func didConsumeWithoutPause() {
        let subject = Self.subject()
        subject.completeHead()
        #expect(subject.write(1000) == 1000)
        subject.transfer.didConsume(1000)
        #expect(subject.mailbox.bytesInFlight == 0)
        #expect(!subject.mailbox.isReceivePaused)
    }

    // MARK: Cancellation and flushing

    @Test("once cancelled, every callback stops the transfer and flush delivers nothing")
    func cancelledCallbacks() {
        let subject = Self.subject()
        subject.completeHead()
        subject.transfer.appendBody(ByteBuffer(string: "queued"))
        #expect(subject.write(10) == 10)
        subject.transfer.cancel()
        #expect(subject.write(10) == 0)
        #expect(subject.read(room: 16).result == Int(CURL_READFUNC_ABORT))
        #expect(subject.header("X-Late: 1\r\n") == 0)
        subject.transfer.pendingTerminal = .end(TransferCompletion())
        subject.transfer.flush()
        #expect(subject.events.withLockedValue { $0.isEmpty })
    }

    @Test("the header callback takes every line it is given")
    func headerCallbackTakesLines() {
        let subject = Self.subject()
        for line in ["HTTP/1.1 200 OK\r\n", "X-A: 1\r\n", "Bad Name: dropped\r\n"] {
            #expect(subject.header(line) == line.utf8.count)
        }
    }

    @Test("flush hands over head, drain notice, the body buffers, then the end, in one batch, and clears them")
    func flushOrder() {
        let subject = Self.subject()
        subject.completeHead()
        subject.transfer.appendBody(ByteBuffer(repeating: 0, count: Self.high))
        while subject.mailbox.uploadBytes > Self.low { _ = subject.read(room: 64 * 1024) }
        #expect(subject.write(5) == 5)
        #expect(subject.write(7) == 7)
        subject.transfer.pendingTerminal = .end(TransferCompletion())
        subject.transfer.flush()
        let batches = subject.events.withLockedValue { $0.map(Self.kinds) }
        // The 7 bytes did not fit the 5-byte buffer: it went whole and a new one took them.
        #expect(batches == [["head 200", "uploadDrained", "body 5", "body 7", "end"]])
        #expect(!subject.transfer.isDirty)
        subject.transfer.flush()
        #expect(subject.events.withLockedValue { $0.count } == 1, "nothing left to deliver")
    }
}
