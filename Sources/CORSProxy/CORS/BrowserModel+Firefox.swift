/// Firefox's console messages (`dom/locales/en-US/chrome/security/security.properties`), as Firefox 153 prints
/// them: `tests/browser/FIREFOX_CONSOLE.md` records every line for each failure.
extension BrowserModel {
    /// Firefox's line naming why it blocks the exchange, given the response's status; `nil` when Firefox does not
    /// block it (it never implemented Private Network Access). For a redirected preflight that also fails the CORS
    /// check, the CORS failure: Firefox checks the redirect's headers first.
    public func firefoxMessage(_ verdict: Verdict, status: Int) -> String? {
        guard let failure = verdict.failure else { return nil }
        if failure == .preflightRedirect, let own = verdict.redirectCORSFailure {
            return self.firefoxLine(own, status: status)
        }
        return self.firefoxLine(failure, status: status)
    }

    /// Every console line Firefox prints for the exchange, in order; empty when it neither blocks nor warns.
    ///
    /// A blocked preflight is followed by one `CORS request did not succeed` line for the request never sent, a
    /// redirected one by more: with good CORS headers on the redirect, the redirect, the preflight's status and
    /// that line; without, the CORS failure and that line twice.
    public func firefoxMessages(_ verdict: Verdict, status: Int) -> [String] {
        var lines = verdict.warnings.map(self.firefoxWarning)
        guard let failure = verdict.failure, let reason = self.firefoxMessage(verdict, status: status) else {
            return lines
        }
        lines.append(reason)
        guard verdict.isPreflight else { return lines }
        if failure == .preflightRedirect {
            if verdict.redirectCORSFailure != nil {
                lines.append(self.firefoxNotSucceeded)
            } else {
                lines.append(self.firefoxBlocked("CORS preflight response did not succeed). Status code: \(status)."))
            }
        }
        lines.append(self.firefoxNotSucceeded)
        return lines
    }

    /// `CORSDidNotSucceed2`: the request got no usable response (or, after a blocked preflight, was never sent).
    var firefoxNotSucceeded: String {
        self.firefoxBlocked("CORS request did not succeed). Status code: (null).")
    }

    private func firefoxLine(_ failure: Failure, status: Int) -> String? {
        switch failure {
        case .missingAllowOrigin:
            self.firefoxBlocked("CORS header ‘Access-Control-Allow-Origin’ missing). Status code: \(status).")
        case .allowOriginMismatch(let value):
            self.firefoxBlocked("CORS header ‘Access-Control-Allow-Origin’ does not match ‘\(value)’).")
        case .multipleAllowOrigin:
            self.firefoxBlocked("Multiple CORS header ‘Access-Control-Allow-Origin’ not allowed).")
        case .wildcardWithCredentials:
            // The one message that quotes the URL.
            self.firefoxBlocked(
                "Credential is not supported if the CORS header ‘Access-Control-Allow-Origin’ is ‘*’).",
                url: "‘\(self.request.url)’"
            )
        case .allowCredentialsNotTrue:
            self.firefoxBlocked("expected ‘true’ in CORS header ‘Access-Control-Allow-Credentials’).")
        case .preflightStatus(let code):
            self.firefoxBlocked("CORS preflight response did not succeed). Status code: \(code).")
        case .preflightRedirect:
            self.firefoxBlocked("CORS request external redirect not allowed).")
        case .methodNotAllowed:
            self.firefoxBlocked("Did not find method in CORS header ‘Access-Control-Allow-Methods’).")
        case .headerNotAllowed(let name):
            self.firefoxBlocked(
                "header ‘\(name)’ is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response)."
            )
        case .privateNetworkNotAllowed:
            nil
        }
    }

    private func firefoxWarning(_ warning: Warning) -> String {
        switch warning {
        case .authorizationCoveredByWildcard:
            "Cross-Origin Request Warning: The Same Origin Policy will disallow reading the remote resource at \(self.request.url) soon. (Reason: When the `Access-Control-Allow-Headers` is `*`, the `Authorization` header is not covered. To include the `Authorization` header, it must be explicitly listed in CORS header `Access-Control-Allow-Headers`)."
        }
    }

    private func firefoxBlocked(_ reason: String, url: String? = nil) -> String {
        "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at \(url ?? self.request.url). (Reason: \(reason)"
    }
}
