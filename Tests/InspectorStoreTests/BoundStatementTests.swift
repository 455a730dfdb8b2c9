import GRDB
@testable import InspectorStore
import Testing

/// Statements bound through SQLite's C API.
@Suite struct BoundStatementTests {
    @Test func bindsIntegersTextAndNullAndReadsThemBack() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (a INTEGER, b TEXT, c TEXT)")
            let insert = try BoundStatement(db, sql: "INSERT INTO t (a, b, c) VALUES (?, ?, ?)")
            for (a, b) in [(Int64.min, "Mường Ảng"), (0, ""), (Int64.max, "Điện Biên")] {
                let changed = try insert.execute { bind in
                    bind(1, a)
                    bind(2, b)
                    bind(3, nil as String?)
                }
                #expect(changed == 1)
            }
            let read = try BoundStatement(db, sql: "SELECT a, b, c FROM t WHERE a = ?")
            let row = try read.fetchFirst({ bind in bind(1, Int64.max) }, { ($0.int64(0), $0.string(1), $0.isNull(2)) })
            #expect(row?.0 == .max && row?.1 == "Điện Biên" && row?.2 == true)
            #expect(try read.fetchFirst({ bind in bind(1, 42) }, { $0.int64(0) }) == nil)
            // The same statement again, with other values: the earlier ones are gone.
            #expect(try read.fetchFirst({ bind in bind(1, 0) }, { $0.string(1) }) == "")
        }
    }

    /// A failing step throws SQLite's error with the statement, and leaves the statement usable.
    @Test func aConstraintFailureThrowsAndTheStatementRunsAgain() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (a INTEGER PRIMARY KEY)")
            let insert = try BoundStatement(db, sql: "INSERT INTO t (a) VALUES (?)")
            try insert.execute { bind in bind(1, 1) }
            let error = #expect(throws: DatabaseError.self) { try insert.execute { bind in bind(1, 1) } }
            #expect(error?.resultCode == .SQLITE_CONSTRAINT && error?.sql == "INSERT INTO t (a) VALUES (?)")
            #expect(try insert.execute { bind in bind(1, 2) } == 1)
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t") == 2)
        }
    }

    /// Rows come in order until they end or the reader stops; the statement then runs again.
    @Test func forEachRowReadsInOrderAndStopsWhenAsked() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (a INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3), (4)")
            let select = try BoundStatement(db, sql: "SELECT a FROM t WHERE a > ? ORDER BY a")
            var all: [Int64] = []
            try select.forEachRow({ bind in bind(1, 0) }, { row in all.append(row.int64(0)); return true })
            var some: [Int64] = []
            try select.forEachRow({ bind in bind(1, 1) }, { row in some.append(row.int64(0)); return some.count < 2 })
            #expect(all == [1, 2, 3, 4] && some == [2, 3])
            var none = 0
            try select.forEachRow({ bind in bind(1, 4) }, { _ in none += 1; return true })
            #expect(none == 0)
        }
    }
}
