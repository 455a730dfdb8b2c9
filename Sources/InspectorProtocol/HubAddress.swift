/// A hub's address, `HOST:PORT`.
public struct HubAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (an IPv6 host in brackets: `[::1]:7000`).
    ///
    /// - Throws: ``ProtocolError`` `bad_message` when the text is not an address.
    public init(parsing text: String) throws(ProtocolError) {
        guard let colon = text.lastIndex(of: ":") else {
            throw ProtocolError(.badMessage, "address '\(text.excerpt(80))' is not HOST:PORT")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let digits = text[text.index(after: colon)...]
        guard !host.isEmpty, !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let port = Int(digits), (0...65535).contains(port) else {
            throw ProtocolError(.badMessage, "address '\(text.excerpt(80))' is not HOST:PORT with a port from 0 to 65535")
        }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
