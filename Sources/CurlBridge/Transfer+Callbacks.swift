internal import CCurl
internal import NIOConcurrencyHelpers
internal import NIOCore

/// libcurl's data callbacks for a ``Transfer``. They run on the curl-loop thread, inside `curl_multi_perform` or
/// `curl_easy_pause`. They are `@convention(c)`: no captures, no Swift errors crossing, the transfer reached
/// through the `userdata` pointer that ``CurlLoop`` retained for the transfer's whole life on the multi handle.
extension Transfer {
    static let writeCallback: ccurl_data_cb = { buffer, size, count, userdata in
        guard let userdata, let buffer else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
        return transfer.receiveBody(UnsafeRawBufferPointer(start: buffer, count: size * count))
    }

    static let headerCallback: ccurl_data_cb = { buffer, size, count, userdata in
        guard let userdata, let buffer else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
        return transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: buffer, count: size * count))
    }

    static let readCallback: ccurl_data_cb = { buffer, size, count, userdata in
        guard let userdata, let buffer else { return Int(CURL_READFUNC_ABORT) }
        let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
        return transfer.sendBody(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
    }

    /// Accepts a whole chunk, or none of it: `CURL_WRITEFUNC_PAUSE` means "I took nothing" and libcurl
    /// redelivers the same bytes after the unpause.
    func receiveBody(_ chunk: UnsafeRawBufferPointer) -> Int {
        guard self.parser.isComplete else {
            // Body bytes before a head the proxy could pass on: relaying them would hand the client upstream bytes
            // it could read as a response of their own.
            self.protocolFault = "the upstream sent body bytes before a complete response head"
            return 0
        }
        enum Decision { case accept, pause, abort }
        let decision = self.mailbox.withLockedValue { mailbox -> Decision in
            if mailbox.isCancelled { return .abort }
            if mailbox.bytesInFlight >= Self.highWatermark {
                mailbox.isReceivePaused = true
                return .pause
            }
            mailbox.bytesInFlight += chunk.count
            return .accept
        }
        switch decision {
        case .abort:
            return 0
        case .pause:
            self.pauseMask |= CURLPAUSE_RECV
            return Int(CURL_WRITEFUNC_PAUSE)
        case .accept:
            if let full = self.pendingBody, full.writableBytes < chunk.count {
                self.fullBodies.append(full)
                self.pendingBody = self.allocator.buffer(
                    capacity: max(chunk.count, min(2 * full.capacity, Self.highWatermark))
                )
            } else if self.pendingBody == nil {
                self.pendingBody = self.allocator.buffer(capacity: chunk.count)
            }
            self.pendingBody!.writeBytes(chunk)
            self.markDirty()
            return chunk.count
        }
    }

    func receiveHeaderLine(_ line: UnsafeRawBufferPointer) -> Int {
        if self.isCancelled { return 0 }
        if let head = self.parser.feed(line, statusCode: { self.responseCode }) {
            self.pendingHead = head
            self.markDirty()
        }
        return line.count
    }

    /// libcurl's status code for the head being received (`CURLINFO_RESPONSE_CODE`).
    private var responseCode: Int {
        var code = 0
        if let easy = self.easy { _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code) }
        return code
    }

    /// Copies queued request body into libcurl's buffer; pauses sending when the queue is empty but the body
    /// is not finished.
    func sendBody(into target: UnsafeMutableRawBufferPointer) -> Int {
        enum Outcome {
            case copied(Int, drained: Bool)
            case pause, finished, abort
        }
        let outcome = self.mailbox.withLockedValue { mailbox -> Outcome in
            if mailbox.isCancelled { return .abort }
            if mailbox.upload.isEmpty {
                if mailbox.isUploadFinished { return .finished }
                mailbox.isSendPaused = true
                return .pause
            }
            var copied = 0
            while copied < target.count, !mailbox.upload.isEmpty {
                let room = target.count - copied
                let taken = mailbox.upload[mailbox.upload.startIndex].withUnsafeReadableBytes { bytes -> Int in
                    let taken = min(room, bytes.count)
                    UnsafeMutableRawBufferPointer(rebasing: target[copied..<(copied + taken)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<taken]))
                    return taken
                }
                copied += taken
                mailbox.upload[mailbox.upload.startIndex].moveReaderIndex(forwardBy: taken)
                if mailbox.upload[mailbox.upload.startIndex].readableBytes == 0 {
                    mailbox.upload.removeFirst()
                }
            }
            mailbox.uploadBytes -= copied
            var drained = false
            if mailbox.isProducerHeld, mailbox.uploadBytes <= Self.lowWatermark {
                mailbox.isProducerHeld = false
                drained = true
            }
            return .copied(copied, drained: drained)
        }
        switch outcome {
        case .abort:
            return Int(CURL_READFUNC_ABORT)
        case .finished:
            return 0
        case .pause:
            self.pauseMask |= CURLPAUSE_SEND
            return Int(CURL_READFUNC_PAUSE)
        case .copied(let count, let drained):
            if drained {
                self.pendingDrained = true
                self.markDirty()
            }
            return count
        }
    }
}
