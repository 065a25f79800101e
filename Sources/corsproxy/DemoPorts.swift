/// Where `corsproxy demo` listens: five loopback ports in a row from `--port` (each 0, a free port, when the base
/// is 0), with `--spa-port` and `--proxy-port` taking precedence for those two.
struct DemoPorts {
    /// The default base: clear of the ports web apps' dev servers pick (3000, 5173, 8000, 8080) and of
    /// `corsproxy serve`'s 8787, so a demo runs beside a developer's own set-up.
    static let defaultBase = 8790
    /// How many ports the demo takes from the base.
    static let count = 5

    var spa: Int
    var proxy: Int
    var admin: Int
    var login: Int
    var api: Int

    /// - Parameters:
    ///   - base: The first of the five ports (SPA, proxy, admin, stand-in login, stand-in API), or 0 for free ports.
    ///   - spa: The SPA's port instead of the base's.
    ///   - proxy: The proxy's port instead of the base's second.
    init(base: Int, spa: Int?, proxy: Int?) {
        let port = { (offset: Int) in base == 0 ? 0 : base + offset }
        self.spa = spa ?? port(0)
        self.proxy = proxy ?? port(1)
        self.admin = port(2)
        self.login = port(3)
        self.api = port(4)
    }
}
