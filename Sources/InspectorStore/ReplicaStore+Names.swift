import GRDB

extension ReplicaStore {
    /// The integers the log and the state store for names: device, unit, item and field ids.
    ///
    /// A name gets its integer the first time an op that carries it is written, in that op's
    /// transaction, and keeps it (the `names` table only grows). An instance lives for one write
    /// transaction and remembers what it has looked up, so an op whose names are already known costs
    /// no query for them.
    final class Names {
        private let db: Database
        private let find: BoundStatement
        private let add: BoundStatement
        private var known: [String: Int64] = [:]

        init(_ db: Database) throws {
            self.db = db
            find = try BoundStatement(db, sql: "SELECT id FROM names WHERE name = ?")
            add = try BoundStatement(db, sql: "INSERT INTO names (name) VALUES (?)")
        }

        /// The integer of `name`, given one if it has none yet.
        func id(of name: String) throws -> Int64 {
            if let id = try existingID(of: name) { return id }
            try add.execute { bind in bind(1, name) }
            let id = db.lastInsertedRowID
            known[name] = id
            return id
        }

        /// The integer of `name`, or nil for a name no op has carried.
        func existingID(of name: String) throws -> Int64? {
            if let id = known[name] { return id }
            guard let id = try find.fetchFirst({ bind in bind(1, name) }, { $0.int64(0) }) else { return nil }
            known[name] = id
            return id
        }

        /// ``id(of:)`` for an optional name (an item or field absent from a finding's op).
        func id(of name: String?) throws -> Int64? {
            try name.map { try id(of: $0) }
        }
    }
}
