/// Reading `routes[].faults` and the top-level `faults` object.
extension ConfigReader {
    mutating func readFaultRules(_ value: JSONValue, at path: String) -> [ProxyConfig.FaultRule] {
        guard case .array(let items) = value else {
            self.fail(path, "expected an array of fault rules, found \(value.typeName)")
            return []
        }
        var rules: [ProxyConfig.FaultRule] = []
        for (index, item) in items.enumerated() {
            let rulePath = "\(path)[\(index)]"
            guard let object = self.object(item, at: rulePath, known: ["fault", "rate", "methods", "origins"]) else {
                continue
            }
            guard let value = object["fault"] else {
                self.fail("\(rulePath).fault", "missing: one of \(Fault.kinds.joined(separator: ", "))")
                continue
            }
            guard let text = self.string(value, at: "\(rulePath).fault") else { continue }
            let fault: Fault
            switch Fault.parse(text) {
            case .success(let parsed): fault = parsed
            case .failure(let error):
                self.fail("\(rulePath).fault", error.description)
                continue
            }
            var rule = ProxyConfig.FaultRule(fault: fault)
            if let value = object["rate"], let rate = self.number(value, at: "\(rulePath).rate", range: 0...1) {
                rule.rate = rate
            }
            if let value = object["methods"], let items = self.strings(value, at: "\(rulePath).methods") {
                rule.methods = items.compactMap { itemPath, method in
                    guard HTTPToken.isToken(method) else {
                        self.fail(itemPath, "\"\(method)\" is not an HTTP method")
                        return nil
                    }
                    return method
                }
                self.checkMethods(of: rule, at: "\(rulePath).methods")
            }
            if let value = object["origins"], let items = self.strings(value, at: "\(rulePath).origins") {
                rule.origins = items.compactMap { itemPath, text in
                    switch OriginPattern.parse(text) {
                    case .success(let pattern): return pattern
                    case .failure(let error):
                        self.fail(itemPath, error.description)
                        return nil
                    }
                }
            }
            rules.append(rule)
        }
        return rules
    }

    mutating func readFaultSettings(_ value: JSONValue) -> ProxyConfig.FaultSettings {
        var settings = ProxyConfig.FaultSettings()
        guard let object = self.object(value, at: "faults", known: ["requestControl", "seed"]) else { return settings }
        if let value = object["requestControl"], let flag = self.bool(value, at: "faults.requestControl") {
            settings.requestControl = flag
        }
        if let value = object["seed"],
            let seed = self.number(value, at: "faults.seed", range: 0...9_007_199_254_740_991)
        {
            if seed != seed.rounded() {
                self.fail("faults.seed", "expected a whole number, found \(seed)")
            }
            settings.seed = UInt64(seed)
        }
        return settings
    }

    /// A methods filter that can never make a browser fail.
    private mutating func checkMethods(of rule: ProxyConfig.FaultRule, at path: String) {
        guard let methods = rule.methods else { return }
        if methods.isEmpty {
            self.fail(path, "empty: the rule would match no request; leave the key out for every method")
        } else if rule.fault == .methodNotAllowed, methods.allSatisfy({ BrowserModel.safelistedMethods.contains($0) }) {
            self.fail(
                path,
                "method-not-allowed cannot apply to \(methods.joined(separator: ", ")): browsers never check GET, HEAD or POST against Access-Control-Allow-Methods"
            )
        }
    }
}
