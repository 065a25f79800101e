/// Reading the top-level `tls` object.
extension ConfigReader {
    /// Reads `tls` and checks its pair the way the server will load it: each file readable and PEM of its kind, the
    /// key the certificate's. A config that validates therefore starts serving HTTPS, and a bad pair is named by
    /// key path, one line per problem.
    mutating func readTLS(_ value: JSONValue) -> ProxyConfig.TLS? {
        guard let object = self.object(value, at: "tls", known: ["certificate", "privateKey"]) else { return nil }
        var paths: [CertificatePair.Refusal.File: String] = [:]
        for file in [CertificatePair.Refusal.File.certificate, .privateKey] {
            let key = "tls.\(file.rawValue)"
            guard let value = object[file.rawValue] else {
                self.fail(key, "missing: the path of a PEM file")
                continue
            }
            guard let text = self.string(value, at: key) else { continue }
            guard !text.isEmpty else {
                self.fail(key, "empty: the path of a PEM file")
                continue
            }
            paths[file] = self.resolve(text)
        }
        guard let certificate = paths[.certificate], let privateKey = paths[.privateKey] else { return nil }
        do {
            _ = try CertificatePair.load(certificate: certificate, privateKey: privateKey)
        } catch {
            for problem in error.problems { self.fail("tls.\(problem.file.rawValue)", problem.message) }
            return nil
        }
        return ProxyConfig.TLS(certificate: certificate, privateKey: privateKey)
    }

    /// `path` if absolute, else `path` under the config file's directory.
    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") || self.directory == "." { return path }
        return self.directory.hasSuffix("/") ? self.directory + path : self.directory + "/" + path
    }
}
