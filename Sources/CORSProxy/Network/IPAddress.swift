#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// An IPv4 or IPv6 address as 128 bits: IPv4 is held IPv4-mapped (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), so one
/// ``CIDR`` comparison serves both families and a dual-stack socket's `::ffff:10.0.0.1` is the same as `10.0.0.1`.
struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address's 128 bits, most significant half first.
    let high: UInt64
    let low: UInt64

    private static let mappedHigh: UInt64 = 0
    private static let mappedLowPrefix: UInt64 = 0x0000_FFFF_0000_0000

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses `192.0.2.7`, `2001:db8::1`, `[2001:db8::1]`, `fe80::1%eth0` (the zone is dropped); `nil` for
    /// anything else.
    init?(_ text: some StringProtocol) {
        var literal = Substring(text)
        if literal.hasPrefix("["), literal.hasSuffix("]") { literal = literal.dropFirst().dropLast() }
        if let percent = literal.firstIndex(of: "%") { literal = literal[..<percent] }
        guard !literal.isEmpty, literal.utf8.count <= 45 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 16)
        if !literal.contains(":") {
            guard inet_pton(AF_INET, String(literal), &bytes) == 1 else { return nil }
            let v4 = bytes[0..<4].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self.init(high: Self.mappedHigh, low: Self.mappedLowPrefix | v4)
            return
        }
        guard inet_pton(AF_INET6, String(literal), &bytes) == 1 else { return nil }
        self.init(
            high: bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) },
            low: bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        )
    }

    /// An IPv4 address (held IPv4-mapped).
    var isIPv4: Bool { self.high == Self.mappedHigh && self.low >> 32 == Self.mappedLowPrefix >> 32 }

    /// `192.0.2.7` for IPv4 (mapped or not), RFC 5952's text for IPv6 (`2001:db8::1`).
    var description: String {
        if self.isIPv4 {
            let v4 = UInt32(truncatingIfNeeded: self.low)
            return "\(v4 >> 24).\(v4 >> 16 & 0xFF).\(v4 >> 8 & 0xFF).\(v4 & 0xFF)"
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 {
            bytes[index] = UInt8(truncatingIfNeeded: self.high >> (56 - 8 * index))
            bytes[index + 8] = UInt8(truncatingIfNeeded: self.low >> (56 - 8 * index))
        }
        var text = [CChar](repeating: 0, count: 64)
        guard inet_ntop(AF_INET6, bytes, &text, socklen_t(text.count)) != nil else { return "::" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An address range in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a range of one), as
/// `trustedProxies` lists them.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    let network: IPAddress
    /// Leading bits that must match, 0…128, counted in the 128-bit (IPv4-mapped) form.
    let prefixLength: Int
    /// As written in the config.
    public let source: String

    /// Parses `ADDRESS[/BITS]`; BITS is 0…32 for IPv4 and 0…128 for IPv6. Host bits set beyond the prefix
    /// (`10.0.0.1/8`) are refused: they usually mean a typo.
    static func parse(_ text: String) -> Result<CIDR, CIDRError> {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]), !parts[0].hasPrefix("[") else {
            return .failure(CIDRError("\"\(text)\" is not an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8)"))
        }
        let maximum = address.isIPv4 && !parts[0].contains(":") ? 32 : 128
        var bits = maximum
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...maximum).contains(value), parts[1].allSatisfy(\.isASCII) else {
                return .failure(CIDRError("\"\(text)\": the prefix length must be 0…\(maximum)"))
            }
            bits = value
        }
        let length = bits + (128 - maximum)
        let range = CIDR(network: address, prefixLength: length, source: text)
        guard range.masked(address) == address else {
            return .failure(
                CIDRError(
                    "\"\(text)\" has bits set beyond its /\(bits) prefix; did you mean \(range.masked(address))/\(bits)?"
                )
            )
        }
        return .success(range)
    }

    /// Whether `address` is in the range.
    func contains(_ address: IPAddress) -> Bool {
        self.masked(address) == self.network
    }

    private func masked(_ address: IPAddress) -> IPAddress {
        func mask(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? .max : ~(UInt64.max >> bits) }
        return IPAddress(
            high: address.high & mask(self.prefixLength),
            low: address.low & mask(self.prefixLength - 64)
        )
    }

    public var description: String { self.source }
}

/// Why a `trustedProxies` entry is not a range.
struct CIDRError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
