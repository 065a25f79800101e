/// A request target split at its first `?` (origin-form, RFC 9112 §3.2.1), byte by byte.
///
/// Scanning a `String` by `Character` costs about 180 instructions a character (grapheme breaking); a target's
/// delimiters are ASCII bytes, so its parts are found on the UTF-8 view.
struct RequestTarget {
    /// Everything before the first `?`: the whole target when it has no query.
    let path: Substring
    /// Everything after the first `?`, or `nil` when there is none (`""` for a target ending in `?`).
    let query: Substring?

    init(_ target: String) {
        guard let question = ASCII.firstOffset(of: UInt8(ascii: "?"), in: target, from: 0) else {
            self.path = target[...]
            self.query = nil
            return
        }
        let utf8 = target.utf8
        self.path = target[..<utf8.index(utf8.startIndex, offsetBy: question)]
        self.query = target[utf8.index(utf8.startIndex, offsetBy: question + 1)...]
    }
}
