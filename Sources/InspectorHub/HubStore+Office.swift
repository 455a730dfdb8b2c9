import Crypto
import Dispatch
import Foundation
import GRDB
import HummingbirdBcrypt
import InspectorCore
import InspectorStore

/// What an office account may do on the dashboard.
public enum OfficeRole: String, Sendable, CaseIterable, Hashable {
    /// Reads every page and downloads the exports; changes nothing.
    case viewer
    /// Also decides conflicts and schedules visits.
    case supervisor

    /// Whether the role may record decisions (resolutions, schedules).
    public var canDecide: Bool { self == .supervisor }
}

/// An account of the provincial office on the hub's dashboard.
public struct OfficeUser: Sendable, Hashable {
    /// The name the person signs in with, and that decisions are recorded under (NFC).
    public var name: String
    public var role: OfficeRole

    public init(name: String, role: OfficeRole) {
        self.name = name
        self.role = role
    }
}

/// A signed-in browser: whose it is, its anti-forgery token, and when it ends.
public struct OfficeSession: Sendable, Hashable {
    public var user: OfficeUser
    /// The token every form of this session carries (the synchronizer-token pattern): a forged form
    /// from another site cannot know it.
    public var csrfToken: String
    /// When the session ends, ms since 1970.
    public var expiresAt: Int64
}

/// What an audit entry records. Stored by its raw value; a value this release does not know (one
/// written by a later release) is kept as it is.
public struct AuditAction: RawRepresentable, Hashable, Sendable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A supervisor's decision on a conflicting field.
    public static let resolve = AuditAction(rawValue: "resolve")
    /// The day a team arrives at a unit.
    public static let schedule = AuditAction(rawValue: "schedule")
    public static let userAdded = AuditAction(rawValue: "user_added")
    public static let userRemoved = AuditAction(rawValue: "user_removed")
}

/// One entry of the hub's audit list: who decided what, and when.
public struct AuditEntry: Sendable, Hashable {
    public var id: Int64
    /// When, ms since 1970 (the hub's clock).
    public var at: Int64
    /// The office account or the supervisor named on the command line.
    public var user: String
    public var action: AuditAction
    /// What was decided, for people.
    public var detail: String
}

extension HubStore {
    /// How long a sign-in lasts: 12 hours, a working day.
    public static let officeSessionLength: Int64 = 12 * 3_600_000

    /// The bcrypt cost of office passwords: 2¹¹ rounds, about 0.1 s on the hub's 2 cores.
    static let officePasswordCost: UInt8 = 11

    /// A bcrypt hash that matches no password: verified against when a name is unknown, so that an
    /// unknown name takes as long to refuse as a wrong password.
    private static let decoyHash = Bcrypt.hash(HubStore.makeToken(), cost: officePasswordCost)

    /// Adds an office account.
    ///
    /// - Parameters:
    ///   - name: 1–100 characters, stored in NFC.
    ///   - password: 8–72 bytes of UTF-8 (bcrypt reads no further than 72).
    ///   - by: who adds it, for the audit list.
    /// - Throws: `invalid_text` or `invalid_argument` for a bad name or password, `already_exists` for
    ///   a name in use. Nothing is written when it throws.
    public func addOfficeUser(name: String, role: OfficeRole, password: String, by actor: String = HubStore.commandLineUser) throws {
        let name = try Text.validated(name, what: "the account name", maximumLength: 100)
        try Self.checkPassword(password)
        let hash = Bcrypt.hash(password, cost: Self.officePasswordCost)
        let now = self.now()
        try replica.write { db in
            guard try !Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM office_users WHERE name = ?)", arguments: [name])! else {
                throw HubError(.alreadyExists, "an office account named '\(name)' already exists")
            }
            try db.execute(sql: "INSERT INTO office_users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [name, role.rawValue, hash, now])
            try Self.audit(db, at: now, user: actor, action: .userAdded, detail: "tài khoản \(name) (\(role.rawValue))")
        }
    }

    /// Removes an office account and ends its sessions; its past decisions stay in the audit list.
    ///
    /// - Parameter by: who removes it, for the audit list.
    public func removeOfficeUser(name: String, by actor: String = HubStore.commandLineUser) throws {
        let name = Text.nfc(name)
        let now = self.now()
        try replica.write { db in
            try db.execute(sql: "DELETE FROM office_users WHERE name = ?", arguments: [name])
            guard db.changesCount > 0 else { throw HubError(.notFound, "no office account is named '\(name)'") }
            try db.execute(sql: "DELETE FROM office_sessions WHERE user = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM office_sign_in_links WHERE user = ?", arguments: [name])
            try Self.audit(db, at: now, user: actor, action: .userRemoved, detail: "tài khoản \(name)")
        }
    }

    /// The office accounts, by name.
    public func officeUsers() throws -> [OfficeUser] {
        try replica.read { db in
            try Row.fetchAll(db, sql: "SELECT name, role FROM office_users ORDER BY name").compactMap(Self.user)
        }
    }

    /// Checks a name and password and opens a session.
    ///
    /// - Returns: the session and its secret token (for the cookie; the hub keeps only its hash).
    /// - Throws: `sign_in_failed` when the name is unknown or the password wrong (both take a bcrypt check).
    public func signIn(name: String, password: String) async throws -> (session: OfficeSession, token: String) {
        let name = Text.nfc(name)
        let stored = try await replica.read { db in
            try Row.fetchOne(db, sql: "SELECT name, role, password_hash FROM office_users WHERE name = ?", arguments: [name])
                .map { row -> (OfficeUser?, String) in (Self.user(row), row["password_hash"]) }
        }
        let matches = await Self.verify(password, hash: stored?.1 ?? Self.decoyHash)
        guard matches, let user = stored?.0 else {
            throw HubError(.signInFailed, "the name or the password is wrong")
        }
        return try await openSession(for: user)
    }

    /// The session of a browser's token, if it is open and has not ended.
    public func officeSession(token: String) async throws -> OfficeSession? {
        let hash = Self.hash(token: token)
        let now = self.now()
        return try await replica.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT u.name AS name, u.role AS role, s.csrf AS csrf, s.expires_at AS expires_at
                FROM office_sessions AS s JOIN office_users AS u ON u.name = s.user
                WHERE s.token_hash = ? AND s.expires_at > ?
                """, arguments: [hash, now]), let user = Self.user(row) else { return nil }
            return OfficeSession(user: user, csrfToken: row["csrf"], expiresAt: row["expires_at"])
        }
    }

    /// Ends a session (signing out).
    public func signOut(token: String) async throws {
        let hash = Self.hash(token: token)
        try await replica.write { db in
            try db.execute(sql: "DELETE FROM office_sessions WHERE token_hash = ?", arguments: [hash])
        }
    }

    /// Makes a single-use sign-in link for an account, valid for `validity`: the path
    /// `/sign-in/link/<token>` signs a browser in without typing the password (a demo, a kiosk, a
    /// headless browser). The hub keeps only the token's hash.
    public func makeSignInLink(for name: String, validity: Duration = .seconds(600)) throws -> String {
        let name = Text.nfc(name)
        let token = Self.makeToken()
        let expires = Self.expiry(from: now(), after: validity)
        try replica.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM office_users WHERE name = ?)", arguments: [name])! else {
                throw HubError(.notFound, "no office account is named '\(name)'")
            }
            try db.execute(sql: "INSERT INTO office_sign_in_links (token_hash, user, expires_at) VALUES (?, ?, ?)",
                           arguments: [Self.hash(token: token), name, expires])
        }
        return token
    }

    /// Uses a sign-in link: it opens a session once, and never again.
    ///
    /// - Throws: `sign_in_failed` for an unknown, used or expired link.
    public func redeemSignInLink(_ token: String) async throws -> (session: OfficeSession, token: String) {
        let hash = Self.hash(token: token)
        let now = self.now()
        let user = try await replica.write { db -> OfficeUser? in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT u.name AS name, u.role AS role, l.expires_at AS expires_at
                FROM office_sign_in_links AS l JOIN office_users AS u ON u.name = l.user WHERE l.token_hash = ?
                """, arguments: [hash]) else { return nil }
            try db.execute(sql: "DELETE FROM office_sign_in_links WHERE token_hash = ?", arguments: [hash])
            let expires: Int64 = row["expires_at"]
            return expires > now ? Self.user(row) : nil
        }
        guard let user else { throw HubError(.signInFailed, "this sign-in link is unknown, used or expired") }
        return try await openSession(for: user)
    }

    /// The audit list, newest first: `limit` entries before the entry `before` (a page).
    public func auditEntries(limit: Int = 100, before: Int64? = nil) async throws -> [AuditEntry] {
        try await replica.read { db in
            try Row.fetchAll(db, sql: "SELECT id, at, user, action, detail FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
                             arguments: [before ?? Int64.max, max(0, limit)]).map { row in
                AuditEntry(id: row["id"], at: row["at"], user: row["user"], action: AuditAction(rawValue: row["action"]), detail: row["detail"])
            }
        }
    }

    // MARK: Internals

    private func openSession(for user: OfficeUser) async throws -> (session: OfficeSession, token: String) {
        let token = Self.makeToken()
        let csrf = Self.makeToken()
        let now = self.now()
        let expires = now &+ Self.officeSessionLength
        let hash = Self.hash(token: token)
        try await replica.write { db in
            // Ended sessions are swept as new ones open.
            try db.execute(sql: "DELETE FROM office_sessions WHERE expires_at <= ?", arguments: [now])
            try db.execute(sql: "DELETE FROM office_sign_in_links WHERE expires_at <= ?", arguments: [now])
            try db.execute(sql: "INSERT INTO office_sessions (token_hash, user, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [hash, user.name, csrf, now, expires])
        }
        return (OfficeSession(user: user, csrfToken: csrf, expiresAt: expires), token)
    }

    static func user(_ row: Row) -> OfficeUser? {
        guard let role = OfficeRole(rawValue: row["role"]) else { return nil }
        return OfficeUser(name: row["name"], role: role)
    }

    static func checkPassword(_ password: String) throws {
        let bytes = password.utf8.count
        guard bytes >= 8 else { throw HubError(.invalidArgument, "the password is \(bytes) bytes long; it needs at least 8") }
        guard bytes <= 72 else { throw HubError(.invalidArgument, "the password is \(bytes) bytes long; bcrypt reads at most 72") }
        guard !password.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw HubError(.invalidArgument, "the password holds a control character")
        }
    }

    /// bcrypt takes about 0.1 s: it runs on a dispatch queue, not on a task's thread.
    private static func verify(_ password: String, hash: String) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Bcrypt.verify(password, hash: hash)) }
        }
    }

    /// Appends to the audit list, in the caller's transaction.
    static func audit(_ db: Database, at time: Int64, user: String, action: AuditAction, detail: String) throws {
        try db.execute(sql: "INSERT INTO audit (at, user, action, detail) VALUES (?, ?, ?, ?)", arguments: [time, user, action.rawValue, detail])
    }

    /// The office's tables: accounts (bcrypt hashes), open sessions and sign-in links (SHA-256 of
    /// their tokens), and the audit list of decisions.
    static func registerOfficeMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("hub-v5-office") { db in
            try db.execute(sql: """
                CREATE TABLE office_users (
                    name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE office_sessions (
                    token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,
                    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE office_sign_in_links (
                    token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, expires_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL
                );
                """)
        }
    }
}
