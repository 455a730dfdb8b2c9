import Foundation
import InspectorCore
import InspectorHub
import InspectorProtocol
import InspectorStore
import Synchronization
import Testing

/// Issue "the line codec under attack": a live hub and a raw TCP client that sends what no device would.
extension FaultTests {
    @Suite("The line codec under attack")
    struct LineCodecAttackTests {
        static let limit = ProtocolLimits.v1.maximumLineBytes              // 1,048,576
        static let preHandshakeLimit = ProtocolLimits.v1.maximumUnauthenticatedLineBytes  // 16,384

        /// A hub with dev-a on muong-lay.
        struct Setup {
            let directory = TemporaryDirectory()
            let hub: LiveHub
            let token: String

            init() async throws {
                let store = try HubStore.create(at: directory.path("hub.sqlite"), plan: builtInPlan)
                token = try store.addDevice("dev-a", units: ["muong-lay"], name: nil)
                hub = try await LiveHub.start(store)
            }

            /// A connected socket that has done its handshake.
            func authenticated() async throws -> RawSocket {
                let socket = try RawSocket(port: hub.port)
                await socket.sendLine(helloLine("dev-a", token: token))
                guard case .welcome = await socket.message() else { throw RawSocketError(what: "handshake", code: -1) }
                return socket
            }

            var operationCount: Int { (try? hub.store.replica.operationCount()) ?? -1 }
        }

        /// A line of exactly `length` bytes (without its newline): `head`, `x` padding, `tail`.
        static func padded(_ head: String, _ tail: String = "\"}", to length: Int) -> [UInt8] {
            let head = Array(head.utf8), tail = Array(tail.utf8)
            return head + [UInt8](repeating: UInt8(ascii: "x"), count: length - head.count - tail.count) + tail
        }

        /// A `pull` of exactly `length` bytes: an unknown `pad` key makes up the length (unknown keys are ignored).
        static func pull(length: Int) -> [UInt8] { padded("pull {\"cursor\":0,\"pad\":\"", to: length) }

        // MARK: - Lines up to the limit, and past it

        @Test("after the handshake, a line of limit − 1 and of exactly the limit is served; limit + 1 is refused and the connection closed")
        func linesAroundTheLimitAfterTheHandshake() async throws {
            let setup = try await Setup()
            do {
                let socket = try await setup.authenticated()
                for length in [Self.limit - 1, Self.limit] {
                    let line = Self.pull(length: length)
                    #expect(line.count == length)
                    await socket.sendLine(line)
                    let answer = await socket.next()
                    guard case .line(let bytes) = answer, case .ops? = try? LineCodec.decode(bytes) else {
                        Issue.record("a line of \(length) bytes was not served: \(answer)")
                        return
                    }
                }
                // Exactly the limit, ended by CR LF: the CR does not count.
                await socket.send(Self.pull(length: Self.limit) + [0x0D, 0x0A])
                #expect(errorCode(await socket.next()) == "<ops>", "a line of the limit ended by CR LF is served")

                // One byte over, in one write.
                await socket.sendLine(Self.pull(length: Self.limit + 1))
                #expect(await socket.next() == .line(Array("error {\"code\":\"line_too_long\",\"message\":\"a line may hold at most 1048576 bytes\"}".utf8)))
                #expect(await socket.next(timeout: 5) == .closed)
            }
            // One byte over, its last bytes arriving with the newline after a pause.
            do {
                let socket = try await setup.authenticated()
                let line = Self.pull(length: Self.limit + 1)
                await socket.send(Array(line.dropLast(8)))
                try await Task.sleep(for: .milliseconds(300))
                await socket.send(Array(line.suffix(8)) + [0x0A])
                #expect(errorCode(await socket.next()) == "line_too_long")
                #expect(await socket.next(timeout: 5) == .closed)
            }
            #expect(setup.operationCount == 0)
            await setup.hub.stop()
        }

        @Test("a line without a newline waits up to the limit, and is refused with line_too_long one byte past it")
        func anUnterminatedLineUpToTheLimitAndPastIt() async throws {
            let setup = try await Setup()
            do {
                let socket = try await setup.authenticated()
                // Exactly the limit, no newline yet: the hub waits (no answer, still open)…
                let line = Self.pull(length: Self.limit)
                await socket.send(line)
                #expect(await socket.next(timeout: 0.5) == .timedOut, "the hub answered or closed before the line ended")
                // …and serves it when the newline comes.
                await socket.send([0x0A])
                #expect(errorCode(await socket.next()) == "<ops>")

                // One byte past the limit without a newline: refused at once, without waiting for the end.
                await socket.send([UInt8](repeating: UInt8(ascii: "x"), count: Self.limit + 1))
                #expect(await socket.next(timeout: 5) == .line(Array("error {\"code\":\"line_too_long\",\"message\":\"a line may hold at most 1048576 bytes\"}".utf8)))
                #expect(await socket.next(timeout: 5) == .closed)
            }
            await setup.hub.stop()
        }

        @Test("before the handshake the limit is 16 KiB: a hello of limit − 1 and exactly the limit is answered, limit + 1 is refused and closed")
        func tighterLimitsBeforeAuthentication() async throws {
            let setup = try await Setup()
            let hello = String(decoding: helloLine("dev-a", token: setup.token).dropLast(), as: UTF8.self)  // without its closing brace
            for (length, ending) in [(Self.preHandshakeLimit - 1, [UInt8(0x0A)]), (Self.preHandshakeLimit, [0x0A]), (Self.preHandshakeLimit, [0x0D, 0x0A])] {
                do {
                    let socket = try RawSocket(port: setup.hub.port)
                    let line = Self.padded(hello + ",\"pad\":\"", to: length)
                    #expect(line.count == length)
                    await socket.send(line + ending)
                    #expect(errorCode(await socket.next()) == "<welcome>", "a hello of \(length) bytes ended by \(ending) was not answered with welcome")
                }
            }
            do {
                let socket = try RawSocket(port: setup.hub.port)
                await socket.sendLine(Self.padded(hello + ",\"pad\":\"", to: Self.preHandshakeLimit + 1))
                #expect(await socket.next() == .line(Array("error {\"code\":\"line_too_long\",\"message\":\"a line before the handshake may hold at most 16384 bytes\"}".utf8)))
                #expect(await socket.next(timeout: 5) == .closed)
            }
            // Before the handshake every refusal closes the connection.
            let refusals: [(line: [UInt8], code: String)] = [
                (Array("pull {\"cursor\":0}".utf8), "not_authenticated"),
                (Array("hello {\"version\":2}".utf8) + [0xC3], "bad_line"),
                (Array("hello {\"version\":2,\"device\":\"dev-a\",\"token\":\"".utf8) + [0x00] + Array("\",\"time\":0}".utf8), "bad_line"),
                (Array("hello {\"version\":\"1\",\"device\":\"dev-a\",\"token\":\"t\",\"time\":0}".utf8), "bad_message"),
                (Array("hello {\"version\":3,\"device\":\"dev-a\",\"token\":\"t\",\"time\":0}".utf8), "unsupported_version"),
                (Array("hello {\"version\":1,\"device\":\"dev-a\",\"token\":\"t\",\"time\":0}".utf8), "upgrade_required"),
                (Self.padded("hello {\"version\":2,\"device\":\"dev-a\",\"time\":0,\"token\":\"", to: 12_000), "unauthorized"),
                (Array("sync {}".utf8), "unknown_verb"),
                // Foundation's JSONDecoder traps on a body whose last byte opens level 513: it crashed the hub.
                (Array(("hello " + String(repeating: "[", count: 513)).utf8), "bad_line"),
            ]
            for refusal in refusals {
                do {
                    let socket = try RawSocket(port: setup.hub.port)
                    await socket.sendLine(refusal.line)
                    #expect(errorCode(await socket.next()) == refusal.code, "\(String(decoding: refusal.line.prefix(60), as: UTF8.self))")
                    #expect(await socket.next(timeout: 5) == .closed)
                }
            }
            #expect(setup.operationCount == 0)
            await setup.hub.stop()
        }

        /// PROTOCOL.md 2.4: "Implementations MUST NOT buffer more than the limit in force plus the size of
        /// one read while looking for the LF." Before the handshake the limit in force is 16 KiB.
        @Test("before the handshake, an unterminated line is cut once past 16 KiB plus one read")
        func anUnterminatedLineBeforeTheHandshake() async throws {
            let setup = try await Setup()
            do {
                let socket = try RawSocket(port: setup.hub.port)
                // 256 KiB: more than 16 KiB plus one 64 KiB read, far less than 1 MiB.
                await socket.send(Array("hello {\"pad\":\"".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 256 * 1024))
                #expect(await socket.next(timeout: 5) == .line(Self.preHandshakeRefusal), "the hub still holds 256 KiB of an unfinished line before any handshake")
                #expect(await socket.next(timeout: 5) == .closed)
            }
            await setup.hub.stop()
        }

        /// The `error` line of a line over 16 KiB before the handshake.
        static let preHandshakeRefusal = Array("error {\"code\":\"line_too_long\",\"message\":\"a line before the handshake may hold at most 16384 bytes\"}".utf8)

        /// The edges of the pre-handshake cap on the unterminated part of a line (PreAuthenticationLimiter):
        /// the limit counts the line without its LF and a CR before it, so the hub waits while the bytes
        /// without a LF could still be a line of 16,384 bytes and its CR, and refuses the first byte past that.
        @Test("before the handshake, an unterminated line of 16,384 bytes (and its CR) waits; one byte more is refused at once; after the handshake 200 KiB lines are served")
        func theEdgesOfTheUnterminatedLineBeforeTheHandshake() async throws {
            let setup = try await Setup()
            let hello = String(decoding: helloLine("dev-a", token: setup.token).dropLast(), as: UTF8.self)  // without its closing brace
            let exact = Self.padded(hello + ",\"pad\":\"", to: Self.preHandshakeLimit)
            #expect(exact.count == 16_384)
            // Exactly the limit, then its CR, then its LF, each in its own write: a hello the hub answers.
            do {
                let socket = try RawSocket(port: setup.hub.port)
                await socket.send(exact)
                #expect(await socket.next(timeout: 0.5) == .timedOut, "an unterminated line of 16,384 bytes was not waited for")
                await socket.send([0x0D])
                #expect(await socket.next(timeout: 0.5) == .timedOut, "16,384 bytes and a CR were not waited for")
                await socket.send([0x0A])
                #expect(errorCode(await socket.next()) == "<welcome>")
                // Authenticated: the 1 MiB regime, for whole lines and unterminated ones.
                let long = Self.pull(length: 200 * 1024)
                await socket.sendLine(long)
                #expect(errorCode(await socket.next()) == "<ops>", "a line of 200 KiB after the handshake was not served")
                await socket.send(long)
                #expect(await socket.next(timeout: 0.5) == .timedOut, "an unterminated line of 200 KiB after the handshake was not waited for")
                await socket.send([0x0A])
                #expect(errorCode(await socket.next()) == "<ops>")
            }
            // The limit and one byte more that cannot be a CR: refused at once, before any LF, then closed.
            do {
                let socket = try RawSocket(port: setup.hub.port)
                await socket.send(exact)
                #expect(await socket.next(timeout: 0.5) == .timedOut)
                await socket.send(Array("xx".utf8))
                #expect(await socket.next(timeout: 5) == .line(Self.preHandshakeRefusal))
                #expect(await socket.next(timeout: 5) == .closed)
            }
            // 16,385 bytes without a LF may be a line and its CR: waited for; its LF shows a line over the limit.
            do {
                let socket = try RawSocket(port: setup.hub.port)
                await socket.send(exact + Array("x".utf8))
                #expect(await socket.next(timeout: 0.5) == .timedOut)
                await socket.send([0x0A])
                #expect(await socket.next(timeout: 5) == .line(Self.preHandshakeRefusal))
                #expect(await socket.next(timeout: 5) == .closed)
            }
            #expect(setup.operationCount == 0)
            await setup.hub.stop()
        }

        /// PROTOCOL.md 2.4: no line over 1 MiB "in either direction". A push of exactly 1 MiB whose item id
        /// is one grapheme cluster drew an `invalid_op` whose message quoted the id whole (1,048,774 bytes,
        /// longer than a device reads; see FuzzTests.errorMessagesDoNotEchoThePayload).
        @Test("the hub's answer to a line of the limit stays within the limit, even when the line is one long grapheme cluster")
        func theAnswerToALineOfTheLimitStaysWithinIt() async throws {
            let setup = try await Setup()
            let socket = try await setup.authenticated()
            let head = #"push {"ops":[{"d":"dev-a","s":1,"t":0,"c":0,"k":"set","u":"muong-lay","i":"e"#
            let tail = #"","f":"status","v":"done"}]}"#
            let marks = (Self.limit - head.utf8.count - tail.utf8.count) / 2  // U+0301 is two bytes
            var line = Array(head.utf8) + Array(String(repeating: "\u{301}", count: marks).utf8) + Array(tail.utf8)
            line.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "x"), count: Self.limit - line.count), at: head.utf8.count - 1)
            #expect(line.count == Self.limit)
            await socket.sendLine(line)
            let answer = await socket.next()
            guard case .line(let bytes) = answer else { Issue.record("no answer: \(answer)"); return }
            #expect(errorCode(answer) == "invalid_op")
            #expect(bytes.count <= 1024, "the hub answered a line of \(bytes.count) bytes")
            #expect(setup.operationCount == 0)
            await setup.hub.stop()
        }

        // MARK: - Bounded memory

        /// `INSPECTOR_ATTACK_BYTES` (default 1 GiB) of `x` without a newline, as fast as loopback takes
        /// them, before and after the handshake. The hub must cut the connection long before the end,
        /// and this process's resident memory (the hub runs in it) must grow by less than 64 MiB.
        @Test("a client streaming without newlines is cut long before the end, and the hub's memory stays bounded",
              arguments: [false, true])
        func memoryStaysBoundedUnderAStreamWithoutNewlines(authenticated: Bool) async throws {
            let total = ProcessInfo.processInfo.environment["INSPECTOR_ATTACK_BYTES"].flatMap { Int($0) } ?? 1 << 30
            let setup = try await Setup()
            let before = residentBytes()
            let peak = Mutex(before)
            let sampling = Task.detached {
                while !Task.isCancelled {
                    let now = residentBytes()
                    peak.withLock { $0 = max($0, now) }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            let started = ContinuousClock.now
            let socket = authenticated ? try await setup.authenticated() : try RawSocket(port: setup.hub.port)
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
            var sent = 0
            var cut = false
            while sent < total {
                let size = min(chunk.count, total - sent)
                guard let n = socket.sendNow(chunk[..<size]) else { cut = true; break }
                sent += n
                if n == 0 {
                    // The socket buffers are full: has the hub closed the connection?
                    if !socket.receiveNow() { cut = true; break }
                    try await Task.sleep(for: .microseconds(200))
                }
            }
            let answer = await socket.next(timeout: 5)
            let elapsed = ContinuousClock.now - started
            sampling.cancel()
            _ = await sampling.value
            let after = residentBytes()
            let growth = max(peak.withLock { $0 }, after) - before
            print("[memoryStaysBounded] \(authenticated ? "after" : "before") the handshake: the hub cut the stream after \(sent >> 20) MiB of \(total >> 20) MiB offered (\(elapsed); kernel socket buffers up to \(kernelSocketBufferCeiling() >> 20) MiB); resident memory \(before >> 20) MiB → peak \(peak.withLock { $0 } >> 20) MiB, after \(after >> 20) MiB (growth \(growth >> 20) MiB)")
            #expect(cut, "the hub never cut the stream")
            // What the kernel's buffers of this connection took is not what the hub read: allow for them.
            let kernel = kernelSocketBufferCeiling()
            #expect(sent < min(total, (32 << 20) + kernel),
                    "the hub took \(sent) bytes of an endless line before cutting it (kernel buffers up to \(kernel >> 20) MiB)")
            #expect(growth < 64 << 20, "resident memory grew by \(growth >> 20) MiB")
            // The answer may be lost when the hub's close resets the connection; if it arrived it is line_too_long.
            if case .line = answer { #expect(errorCode(answer) == "line_too_long") }
            #expect(setup.operationCount == 0)
            await setup.hub.stop()
        }

        // MARK: - Bad lines after the handshake

        static let validOp = #"{"d":"dev-a","s":1,"t":1718845320000,"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"status","v":"done"}"#

        static func push(_ op: String) -> [UInt8] { Array("push {\"ops\":[\(op)],\"withdrawn\":[]}".utf8) }

        /// Lines no device should send, each with the code the hub must answer.
        static let badLines: [(name: String, line: [UInt8], code: String)] = {
            var lines: [(String, [UInt8], String)] = [
                ("invalid UTF-8 at the end", Array("pull {\"cursor\":0}".utf8) + [0xC3], "bad_line"),
                ("a lone continuation byte in a value", push(validOp.replacingOccurrences(of: "done", with: "do\u{1}ne")).map { $0 == 0x01 ? 0x80 : $0 }, "bad_line"),
                ("0xFF bytes", Array("push ".utf8) + [0xFF, 0xFF, 0xFE], "bad_line"),
                ("an overlong encoding of '/'", Array("pull {\"cursor\":0,\"x\":\"".utf8) + [0xC0, 0xAF] + Array("\"}".utf8), "bad_line"),
                ("an encoded surrogate", Array("pull {\"cursor\":0,\"x\":\"".utf8) + [0xED, 0xA0, 0x80] + Array("\"}".utf8), "bad_line"),
                ("a NUL after the body", Array("pull {\"cursor\":0}".utf8) + [0x00], "bad_line"),
                ("a NUL in the verb", Array("pu".utf8) + [0x00] + Array("ll {\"cursor\":0}".utf8), "bad_line"),
                ("a raw NUL inside a string", push(validOp.replacingOccurrences(of: "done", with: "do\u{1}ne")).map { $0 == 0x01 ? 0x00 : $0 }, "bad_line"),
                ("only a NUL", [0x00], "bad_line"),
                ("an escaped NUL in a value", push(validOp.replacingOccurrences(of: "\"done\"", with: "\"done\\u0000\"")), "invalid_op"),
                ("truncated JSON", Array("push {\"ops\":[{\"d\":\"dev-a\",\"s\":1".utf8), "bad_line"),
                ("truncated after the verb", Array("push ".utf8), "bad_line"),
                ("a verb alone", Array("push".utf8), "bad_line"),
                ("an unknown verb", Array("sync {}".utf8), "unknown_verb"),
                ("another unknown verb", Array("delete {\"d\":\"dev-a\",\"s\":1}".utf8), "unknown_verb"),
                ("a verb the hub sends", Array("pushed {\"confirmed\":9,\"applied\":9,\"duplicates\":0}".utf8), "unknown_verb"),
                ("a verb of 33 letters", Array((String(repeating: "a", count: 33) + " {}").utf8), "bad_line"),
                ("a cursor of the wrong type", Array("pull {\"cursor\":\"0\"}".utf8), "bad_message"),
                ("a cursor that is not integral", Array("pull {\"cursor\":1.5}".utf8), "bad_message"),
                ("a cursor out of range", Array("pull {\"cursor\":9223372036854775808}".utf8), "bad_message"),
                ("a null cursor", Array("pull {\"cursor\":null}".utf8), "bad_message"),
                ("a body that is an array", Array("pull [0]".utf8), "bad_message"),
                ("ops that are an object", Array("push {\"ops\":{}}".utf8), "bad_message"),
                ("a sequence number as a string", push(validOp.replacingOccurrences(of: "\"s\":1", with: "\"s\":\"1\"")), "bad_message"),
                ("a timestamp out of range", push(validOp.replacingOccurrences(of: "1718845320000", with: "99999999999999999999")), "bad_message"),
                ("a value that is a number", push(validOp.replacingOccurrences(of: "\"done\"", with: "1")), "bad_message"),
                ("an unknown op kind", push(validOp.replacingOccurrences(of: "\"set\"", with: "\"drop\"")), "bad_message"),
                ("withdrawn below 1", Array("push {\"ops\":[],\"withdrawn\":[0]}".utf8), "bad_message"),
                ("513 levels opened at the end", Array(("pull " + String(repeating: "[", count: 513)).utf8), "bad_line"),
                ("deep nesting", Array("pull {\"cursor\":".utf8) + [UInt8](repeating: 0x5B, count: 100_000) + [UInt8](repeating: 0x5D, count: 100_000) + [0x7D], "bad_line"),  // past the JSON reader's depth limit
                ("a value not in NFC", push(validOp.replacingOccurrences(of: "\"done\"", with: "\"e\u{301}\"")), "invalid_op"),
                ("a value of 900 KB", push(validOp.replacingOccurrences(of: "\"done\"", with: "\"" + String(repeating: "x", count: 900_000) + "\"")), "invalid_op"),
                ("a foreign device's op", push(validOp.replacingOccurrences(of: "dev-a", with: "dev-b")), "foreign_device"),
                ("an op out of scope", push(validOp.replacingOccurrences(of: "muong-lay", with: "muong-ang")), "out_of_scope"),
                ("an invalid value", push(validOp.replacingOccurrences(of: "\"done\"", with: "\"finished\"")), "invalid_op"),
                ("a valid op then an invalid one", push(validOp + "," + validOp.replacingOccurrences(of: "\"s\":1", with: "\"s\":2").replacingOccurrences(of: "II.4", with: "IX.99")), "invalid_op"),
                ("a second hello", Array("hello {\"version\":2,\"device\":\"dev-a\",\"token\":\"x\",\"time\":0}".utf8), "not_authenticated"),
            ]
            // Over the batch cap: every op valid, nothing applied.
            for count in [2001, 5000] {
                let ops = syntheticOps(device: "dev-a", count: count).map { $0.wireJSON() }.joined(separator: ",")
                lines.append(("a push of \(count) ops", Array("push {\"ops\":[\(ops)],\"withdrawn\":[]}".utf8), "batch_too_large"))
            }
            return lines
        }()

        @Test("after each bad line the session still serves a pull, and nothing is applied")
        func badLinesAfterTheHandshake() async throws {
            let setup = try await Setup()
            do {
                let socket = try await setup.authenticated()
                for bad in Self.badLines {
                    #expect(bad.line.count <= Self.limit, "\(bad.name): the line must fit the limit")
                    await socket.sendLine(bad.line)
                    let answer = await socket.next()
                    #expect(errorCode(answer) == bad.code, "\(bad.name)")
                    await socket.sendLine(Array("pull {\"cursor\":0}".utf8))
                    #expect(await socket.next() == .line(Array("ops {\"ops\":[],\"cursor\":0,\"more\":false}".utf8)), "\(bad.name): the session no longer serves a pull")
                    #expect(setup.operationCount == 0, "\(bad.name): something was applied")
                }
                // A good push ended by CR LF is accepted; then the session goes on.
                await socket.send(Self.push(Self.validOp) + [0x0D, 0x0A])
                #expect(await socket.next() == .line(Array("pushed {\"confirmed\":1,\"applied\":1,\"duplicates\":0}".utf8)))
                await socket.sendLine(Array("pull {\"cursor\":0}".utf8))
                #expect(await socket.next() == .line(Array("ops {\"ops\":[],\"cursor\":1,\"more\":false}".utf8)))
            }
            #expect(setup.operationCount == 1)
            #expect(try await setup.hub.store.confirmed(device: "dev-a") == 1)
            await setup.hub.stop()
        }
    }
}
