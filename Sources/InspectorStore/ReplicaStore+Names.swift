import GRDB
import Synchronization

extension ReplicaStore {
    /// The integers of names committed to the file, shared by a store's write transactions.
    ///
    /// A name enters it only once the transaction that read it from the table has committed: a
    /// name another part of the same transaction added (another ``Names``, a nested savepoint)
    /// could otherwise be cached and then rolled back. Names are never deleted and never change
    /// their integer, so an entry stays true for the life of the file.
    final class CommittedNames: Sendable {
        private let ids = Mutex<[String: Int64]>([:])

        func id(of name: String) -> Int64? { ids.withLock { $0[name] } }

        func record(_ names: [String: Int64]) { ids.withLock { $0.merge(names) { _, new in new } } }
    }

    /// Names a transaction read from the table, published to ``CommittedNames`` when it commits.
    final class FoundNames: Sendable {
        private let names = Mutex<[String: Int64]>([:])
        func add(_ name: String, _ id: Int64) { names.withLock { $0[name] = id } }
        func take() -> [String: Int64] { names.withLock { let all = $0; $0 = [:]; return all } }
    }

    /// The integers the log and the state store for names: device, unit, item and field ids.
    ///
    /// A name gets its integer the first time an op that carries it is written, in that op's
    /// transaction, and keeps it (the `names` table only grows). An instance lives for one write
    /// transaction and remembers what it has looked up; names found in the table also go to the
    /// store's ``CommittedNames``, so an op whose names are known costs no query for them.
    final class Names {
        private let db: Database
        private let find: BoundStatement
        private let add: BoundStatement
        private let committed: CommittedNames?
        private var known: [String: Int64] = [:]
        /// Names found in the table by this instance, for ``committed`` once the transaction commits.
        private var found: FoundNames?

        init(_ db: Database, committed: CommittedNames?) throws {
            self.db = db
            self.committed = committed
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
            if let id = committed?.id(of: name) {
                known[name] = id
                return id
            }
            guard let id = try find.fetchFirst({ bind in bind(1, name) }, { $0.int64(0) }) else { return nil }
            known[name] = id
            if let committed {
                if found == nil {
                    let box = FoundNames()
                    found = box
                    db.afterNextTransaction(onCommit: { _ in committed.record(box.take()) })
                }
                found?.add(name, id)
            }
            return id
        }

        /// ``id(of:)`` for an optional name (an item or field absent from a finding's op).
        func id(of name: String?) throws -> Int64? {
            try name.map { try id(of: $0) }
        }
    }
}
