import HTTPTypes
import Hummingbird
import InspectorCore
import InspectorHub
import Testing
@testable import InspectorDashboard

/// One place maps the registry's codes to HTTP statuses; the page names the problem, escaped.
@Suite struct DashboardErrorTests {
    @Test func eachCodeHasItsStatus() {
        let expected: [(ErrorCode, HTTPResponse.Status)] = [
            (.notSignedIn, .unauthorized), (.signInFailed, .unauthorized), (.forbidden, .forbidden), (.csrfFailed, .forbidden),
            (.signInThrottled, .tooManyRequests), (.unknownUnit, .notFound), (.notFound, .notFound), (.unknownDevice, .notFound),
            (.invalidValue, .badRequest), (.invalidText, .badRequest), (.unknownField, .badRequest), (.storageFailed, .internalServerError),
        ]
        for (code, status) in expected { #expect(DashboardError(code, "x").status == status, "\(code)") }
    }

    @Test func errorsOfOtherLayersKeepTheirCodeAndOthersHideTheirDetails() {
        #expect(DashboardError(HubError(.signInFailed, "wrong")).code == .signInFailed)
        #expect(DashboardError(CoreError(.invalidValue, "field 'rating' takes …")).status == .badRequest)
        struct Opaque: Error {}
        let opaque = DashboardError(Opaque())
        #expect(opaque.code == .internal && !opaque.message.contains("Opaque"))
    }

    @Test func thePageEscapesTheMessage() {
        #expect(HTML.escape("<script>\"x\" & 'y'</script>") == "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;")
        #expect(HTML.escape("Điện Biên") == "Điện Biên")
    }
}
