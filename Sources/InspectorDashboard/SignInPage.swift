/// `/sign-in`: the name and password form.
struct SignInPage: Sendable {
    var csrf: String
    var next: String
    var name: String
    var error: String?
    /// The plan's title and number, e.g. "Kế hoạch kiểm tra công tác thi đua, khen thưởng năm 2024 (1181/KH-HĐTĐKT)".
    var plan: String
}
