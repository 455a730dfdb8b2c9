import GRDB
import GRDBSQLite

/// A cached statement run through SQLite's C API, its parameters bound one by one from integers
/// and strings.
///
/// GRDB's `execute(arguments:)` builds a `StatementArguments` array of boxed values for every
/// row, which the merge profile showed as a fifth of the hub's write transaction (docs/performance.md).
/// The store's per-op statements (append an op, apply it, look it up) bind here instead, with no
/// allocation per row but the copy SQLite makes of each string.
///
/// The caller reports what these statements change to GRDB's observers with
/// `Database.notifyChanges(in:)` (see ``ReplicaStore/notifyStateChanged(_:)``): GRDB does not see
/// statements stepped through the C API.
struct BoundStatement {
    private let statement: Statement
    private let connection: OpaquePointer?

    init(_ db: Database, sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
        connection = db.sqliteConnection
    }

    /// Binds parameters in place, one call per parameter.
    struct Binder {
        fileprivate let handle: OpaquePointer

        /// Binds an integer to the parameter at `index` (1-based).
        func callAsFunction(_ index: Int32, _ value: Int64) {
            sqlite3_bind_int64(handle, index, value)
        }

        /// Binds a string (NUL-terminated, as GRDB binds it), or NULL for nil.
        func callAsFunction(_ index: Int32, _ value: String?) {
            if let value {
                sqlite3_bind_text(handle, index, value, -1, transient)
            } else {
                sqlite3_bind_null(handle, index)
            }
        }
    }

    /// Reads the columns of the current row.
    struct Columns {
        fileprivate let handle: OpaquePointer

        func isNull(_ index: Int32) -> Bool { sqlite3_column_type(handle, index) == SQLITE_NULL }
        func int64(_ index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }
        func string(_ index: Int32) -> String? {
            guard let text = sqlite3_column_text(handle, index) else { return nil }
            return String(cString: text)
        }
    }

    /// Binds with `bind`, runs the statement to its end, and returns how many rows it changed.
    @discardableResult
    func execute(_ bind: (Binder) -> Void) throws -> Int {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        bind(Binder(handle: handle))
        defer { sqlite3_reset(handle) }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return Int(sqlite3_changes(connection)) }
            if code != SQLITE_ROW { throw failure(code) }
        }
    }

    /// Binds with `bind` and reads the first row with `read`, or returns nil when there is none.
    func fetchFirst<T>(_ bind: (Binder) -> Void, _ read: (Columns) -> T) throws -> T? {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        bind(Binder(handle: handle))
        defer { sqlite3_reset(handle) }
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return read(Columns(handle: handle))
        case SQLITE_DONE: return nil
        case let code: throw failure(code)
        }
    }

    /// Binds with `bind` and hands each row to `body`, in order, until the rows end or `body`
    /// returns false.
    func forEachRow(_ bind: (Binder) -> Void, _ body: (Columns) throws -> Bool) throws {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        bind(Binder(handle: handle))
        defer { sqlite3_reset(handle) }
        while true {
            switch sqlite3_step(handle) {
            case SQLITE_ROW: if try !body(Columns(handle: handle)) { return }
            case SQLITE_DONE: return
            case let code: throw failure(code)
            }
        }
    }

    private func failure(_ code: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: connection.map { String(cString: sqlite3_errmsg($0)) },
                      sql: statement.sql)
    }
}

/// SQLite copies a string bound with this destructor.
private let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
