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
        guard let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) else {
            self.path = target[...]
            self.query = nil
            return
        }
        self.path = target[..<question]
        self.query = target[target.utf8.index(after: question)...]
    }
}
