/// `/sign-in`: the name and password form.
struct SignInPage: Sendable {
    var csrf: String
    var next: String
    var name: String
    var error: String?
}
