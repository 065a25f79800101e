internal import Logging

/// The one log line per exchange, at `info`: what was asked, the CORS decision and why, what Chrome and Firefox
/// will print about the answer when they block it, and how it ended. Keys are dotted (swift-log's practice 002); a token never appears, since
/// the record holds none.
struct LogSink: ExchangeSink {
    let logger: Logger

    func record(_ record: ExchangeRecord) {
        // Building the metadata costs more than the rest of a preflight: skip it when the line is not wanted.
        guard self.logger.logLevel <= .info else { return }
        self.logger.info("request", metadata: Self.metadata(record))
    }

    static func metadata(_ record: ExchangeRecord) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "request.id": "\(record.requestID)",
            "http.method": "\(record.method)",
            "http.target": "\(record.target)",
            "http.host": "\(record.host ?? "")",
            "http.status": "\(record.status)",
            "duration_ms": "\(Int(record.duration / .milliseconds(1)))",
        ]
        let cors = record.cors
        switch cors.verdict {
        case .absent:
            metadata["cors"] = "no-origin"
        case .allowed(let origin, let rule):
            metadata["cors"] = "allowed"
            metadata["cors.origin"] = "\(origin)"
            metadata["cors.rule"] = "\(rule)"
        case .refused(let origin, let hint):
            metadata["cors"] = "refused"
            metadata["cors.origin"] = "\(origin)"
            if let hint { metadata["cors.hint"] = "\(hint)" }
        }
        switch cors.stage {
        case .none: break
        case .actual: metadata["cors.request"] = "actual"
        case .preflight: metadata["cors.request"] = "preflight"
        }
        if let preflight = record.preflightRequest {
            metadata["cors.requestMethod"] = "\(preflight.method)"
            let requested = preflight.headers.joined(separator: ",")
            if !requested.isEmpty { metadata["cors.requestHeaders"] = "\(requested)" }
        }
        if let refusal = cors.preflightRefusal { metadata["cors.refusal"] = "\(refusal)" }
        if let fault = cors.fault { metadata["fault"] = "\(fault)" }
        if let reason = cors.wouldBlock {
            metadata["cors.wouldBlock"] = "\(reason.rawValue)"
            if let (model, verdict) = record.enforcedVerdict, let chrome = model.chromeMessage(verdict) {
                metadata["cors.wouldBlock.chrome"] = "\(chrome)"
            }
        }
        if let (model, verdict) = record.browserVerdict, !verdict.isAllowed {
            if let chrome = model.chromeMessage(verdict) { metadata["chrome"] = "\(chrome)" }
            if let firefox = model.firefoxMessage(verdict, status: record.status) { metadata["firefox"] = "\(firefox)" }
        }
        if let upstream = record.upstream { metadata["upstream"] = "\(upstream)" }
        if record.bytesOut > 0 { metadata["bytes"] = "\(record.bytesOut)" }
        if let code = record.curlCode { metadata["curl.code"] = "\(code)" }
        if let code = record.errorCode { metadata["proxy.error"] = "\(code)" }
        if let note = record.note { metadata["note"] = "\(note)" }
        return metadata
    }
}
