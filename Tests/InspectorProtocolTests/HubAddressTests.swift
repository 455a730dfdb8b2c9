import InspectorProtocol
import Testing

@Suite struct HubAddressTests {
    @Test(arguments: [
        ("hub.local:7000", "hub.local", 7000, "hub.local:7000"),
        ("192.168.1.20:7443", "192.168.1.20", 7443, "192.168.1.20:7443"),
        ("[::1]:7000", "::1", 7000, "[::1]:7000"),
        ("[fe80::1%en0]:80", "fe80::1%en0", 80, "[fe80::1%en0]:80"),
        ("localhost:0", "localhost", 0, "localhost:0"),
        ("localhost:65535", "localhost", 65535, "localhost:65535"),
    ])
    func parses(text: String, host: String, port: Int, description: String) throws {
        let address = try HubAddress(parsing: text)
        #expect(address.host == host)
        #expect(address.port == port)
        #expect(address.description == description)
        #expect(try HubAddress(parsing: address.description) == address)
    }

    @Test(arguments: ["hub.local", "hub.local:", ":7000", "hub.local:70000", "hub.local:-1", "hub.local:http", "[]:7000",
                      "hub.local: 7000", "hub.local:7000 ", "", "[::1]"])
    func refuses(text: String) {
        do {
            _ = try HubAddress(parsing: text)
            Issue.record("'\(text)' was accepted")
        } catch {
            #expect(error.code == .badMessage)
            #expect(error.message.contains("HOST:PORT"))
        }
    }

    @Test func describesIPv6InBrackets() {
        #expect(HubAddress(host: "::1", port: 7000).description == "[::1]:7000")
        #expect(HubAddress(host: "hub", port: 1).description == "hub:1")
    }
}
