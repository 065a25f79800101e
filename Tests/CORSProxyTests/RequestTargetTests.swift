import Testing

@testable import CORSProxy

@Suite struct RequestTargetTests {
    @Test(
        arguments: [
            ("/rest/v1.0/projects", "/rest/v1.0/projects", nil),
            ("/rest/v1.0/projects?company_id=8&page=1", "/rest/v1.0/projects", "company_id=8&page=1"),
            ("/a?", "/a", ""),
            ("/a?b?c", "/a", "b?c"),
            ("?x", "", "x"),
            ("", "", nil),
            // A combining mark after `?` makes one Character "?\u{301}": a Character scan would miss the delimiter.
            ("/caf\u{E9}?\u{301}q=1", "/caf\u{E9}", "\u{301}q=1"),
        ] as [(String, String, String?)]
    )
    func splitsAtTheFirstQuestionMark(target: String, path: String, query: String?) {
        let split = RequestTarget(target)
        #expect(String(split.path) == path)
        #expect(split.query.map(String.init) == query)
    }
}
