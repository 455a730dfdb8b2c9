import Testing
@testable import InspectorDashboard

/// The middleware's small readers: forms, the place to go after signing in, token comparison.
@Suite struct OfficeSessionMiddlewareTests {
    @Test func formsAreDecodedToNFCKeepingTheFirstOfARepeatedName() {
        let form = OfficeSessionMiddleware.parseForm("name=Nguye%CC%82%CC%83n+Thi%CC%A3&x=1&x=2&empty=&bare&bad=%E0%A4%A&value=a%2Bb%26c")
        #expect(form["name"] == "Nguyễn Thị")
        #expect(form["x"] == "1" && form["empty"] == "" && form["bare"] == "" && form["value"] == "a+b&c")
        #expect(form["bad"] == nil, "malformed percent-encoding is dropped")
        #expect(OfficeSessionMiddleware.parseForm("").isEmpty && OfficeSessionMiddleware.parseForm("&&=").count <= 1)
    }

    @Test func onlyAPathOfThisSiteIsFollowedAfterSigningIn() {
        #expect(OfficeSessionMiddleware.safeNext("/units/muong-lay?x=1") == "/units/muong-lay?x=1")
        for foreign in [nil, "", "//evil.example/", "/\\evil.example", "https://evil.example/", "units", "/a b", "/\u{0}", "/đi"] {
            #expect(OfficeSessionMiddleware.safeNext(foreign) == "/", "\(String(describing: foreign))")
        }
    }

    @Test func tokensAreComparedWhole() {
        let token = String(repeating: "ab", count: 32)
        #expect(OfficeSessionMiddleware.isEqual(token, token))
        #expect(!OfficeSessionMiddleware.isEqual(token, String(token.dropLast()) + "c"))
        #expect(!OfficeSessionMiddleware.isEqual(token, String(token.dropLast())))
        #expect(!OfficeSessionMiddleware.isEqual("", token) && OfficeSessionMiddleware.isEqual("", ""))
    }
}
