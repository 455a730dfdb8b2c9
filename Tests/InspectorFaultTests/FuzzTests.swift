import Foundation
import InspectorCore
import InspectorProtocol
import Testing
import InspectorFuzzing

/// The line codec and the bundle reader against a seeded generator fuzzer (`Sources/InspectorFuzzing`):
/// mutated vector lines and bundles must never crash them; each must decode to a message that
/// survives encode → decode, or be refused with a known code.
extension FaultTests {
    @Suite("Fuzzing the line codec and bundles")
    struct FuzzTests {
        static let corpus: FuzzCorpus = {
            do { return try FuzzCorpus.load(vectors: vectorsFolder, plan: builtInPlan) } catch {
                fatalError("cannot read the vectors at \(vectorsFolder.path): \(error)")
            }
        }()

        /// The default seed of the suite's run; `INSPECTOR_FUZZ_SEED` replaces it.
        static let defaultSeed: UInt64 = 1181_2024

        @Test("the corpus: every vector line and bundle, unmutated")
        func theCorpusItself() throws {
            let fuzzer = ProtocolFuzzer(corpus: Self.corpus)
            #expect(Self.corpus.lines.count > 150 && Self.corpus.bundles.count >= 10,
                    "\(Self.corpus.lines.count) lines and \(Self.corpus.bundles.count) bundles")
            var report = FuzzReport()
            for line in Self.corpus.lines { fuzzer.check(line: line, into: &report) }
            for bundle in Self.corpus.bundles { fuzzer.check(bundle: bundle, into: &report) }
            #expect(report.failures.isEmpty, "\(report.failures.prefix(5))")
            #expect(report.decoded > 100, "\(report.summary)")
            print("[theCorpusItself] \(report.summary)")
        }

        /// 20,000 cases by default (`INSPECTOR_FUZZ_CASES`), seed `INSPECTOR_FUZZ_SEED`; one case alone with
        /// `INSPECTOR_FUZZ_CASE=<index>`. The soak command runs the same fuzzer for longer.
        @Test("20,000 mutated lines and bundles: no crash, a message that round-trips or a known error code")
        func mutatedInputs() throws {
            let environment = ProcessInfo.processInfo.environment
            let seed = seedFromEnvironment("INSPECTOR_FUZZ_SEED", fallback: Self.defaultSeed, test: "mutatedInputs")
            let fuzzer = ProtocolFuzzer(corpus: Self.corpus)
            if let single = environment["INSPECTOR_FUZZ_CASE"].flatMap(Int.init) {
                let (isBundle, input) = fuzzer.makeCase(seed: seed, index: single)
                print("[mutatedInputs] case \(single) (\(isBundle ? "bundle" : "line"), \(input.count) bytes): \(Data(input.prefix(2000)).base64EncodedString())")
                let report = fuzzer.run(seed: seed, cases: single..<(single + 1))
                #expect(report.failures.isEmpty, "\(report.failures)")
                return
            }
            let cases = environment["INSPECTOR_FUZZ_CASES"].flatMap(Int.init) ?? 20_000
            let started = ContinuousClock.now
            let report = fuzzer.run(seed: seed, cases: 0..<cases)
            print("[mutatedInputs] seed \(seed): \(report.summary) in \(ContinuousClock.now - started); slowest cases: \(report.slowest.map { "#\($0.index) \($0.duration) (\($0.bytes) bytes)" })")
            #expect(report.cases == cases)
            for failure in report.failures.prefix(10) {
                Issue.record("\(failure) — replay with INSPECTOR_FUZZ_SEED=\(seed) INSPECTOR_FUZZ_CASE=\(failure.index)")
            }
            // The generator reaches every outcome: valid messages and bundles, and each refusal.
            #expect(report.decoded > cases / 20, "only \(report.decoded) of \(cases) inputs decoded")
            for code in ["bad_line", "bad_message", "invalid_op", "unknown_verb", "bad_bundle"] {
                #expect((report.refusals[code] ?? 0) > 10, "the fuzzer rarely reaches '\(code)': \(report.refusals)")
            }
            #expect(report.lineCases > cases / 2 && report.bundleCases > cases / 10)
        }

        /// Inputs worth keeping: each once broke a rule (or nearly could), and must keep being handled.
        static let regressions: [(name: String, line: [UInt8])] = [
            ("nesting 100,000 deep", Array("pull {\"cursor\":".utf8) + [UInt8](repeating: 0x5B, count: 100_000) + [UInt8](repeating: 0x5D, count: 100_000) + [0x7D]),
            ("an object nesting 100,000 deep", Array("push ".utf8) + Array(String(repeating: "{\"a\":", count: 100_000).utf8) + [0x31] + [UInt8](repeating: 0x7D, count: 100_000)),
            ("a lone surrogate escape in a value", Array(#"push {"ops":[{"d":"dev-a","s":1,"t":0,"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"note","v":"\ud800"}]}"#.utf8)),
            ("a lone low surrogate escape in an error message", Array(#"error {"code":"x","message":"\udc00\ud800"}"#.utf8)),
            ("U+2028 and DEL in an error message", Array("error {\"code\":\"x\",\"message\":\"a\u{2028}b\u{7F}\"}".utf8)),
            ("a number of 400 digits", Array(("pull {\"cursor\":" + String(repeating: "9", count: 400) + "}").utf8)),
            ("1e400", Array("pull {\"cursor\":1e400}".utf8)),
            ("-0 as a cursor", Array("pull {\"cursor\":-0}".utf8)),
            ("1.0 as a version", Array(#"hello {"version":1.0,"device":"dev-a","token":"t","time":0}"#.utf8)),
            ("a welcome whose plan is a string", Array(#"welcome {"version":1,"time":0,"confirmed":0,"scope":[],"units":[],"plan_digest":"x","plan":"p"}"#.utf8)),
            ("a welcome whose plan is an array", Array(#"welcome {"version":1,"time":0,"confirmed":0,"scope":[],"units":[],"plan_digest":"x","plan":[1]}"#.utf8)),
            ("a welcome whose plan is an empty object", Array(#"welcome {"version":1,"time":0,"confirmed":0,"scope":[],"units":[],"plan_digest":"x","plan":{}}"#.utf8)),
            ("a repeated key", Array(#"pull {"cursor":1,"cursor":"x"}"#.utf8)),
            ("a finding id of another device", Array(#"push {"ops":[{"d":"dev-a","s":1,"t":0,"c":0,"k":"finding_add","u":"muong-lay","n":"dev-b/1","fk":"observation","v":"x"}]}"#.utf8)),
            ("a sequence number at Int64.max", Array(#"push {"ops":[{"d":"dev-a","s":9223372036854775807,"t":9223372036854775807,"c":9223372036854775807,"k":"finding_add","u":"muong-lay","n":"dev-a/9223372036854775807","fk":"observation","v":"x"}]}"#.utf8)),
            ("512 objects then [", Array(("pull " + String(repeating: "{\"a\":", count: 512) + "[").utf8)),
            ("a bare CR", [0x0D]),
            ("CR CR", Array("bye {}".utf8) + [0x0D, 0x0D]),
        ]

        /// Found by this fuzzer: `"plan":1` in a welcome passed the wire struct (an empty `Decodable`
        /// accepts any value) and reached `JSONSerialization.data(withJSONObject:)`, which traps on a
        /// bare number or string: a hostile hub (or anyone on the path: version 1 has no TLS) crashed the device.
        @Test("a welcome whose plan is not an object is refused with bad_message, not a crash",
              arguments: ["1", "\"p\"", "true", "[1]", "{}"])
        func aWelcomeWhosePlanIsNotAnObject(plan: String) {
            let line = #"welcome {"version":1,"time":0,"confirmed":0,"scope":[],"units":[],"plan_digest":"x","plan":"# + plan + "}"
            #expect(throws: ProtocolError.self) { try LineCodec.decode(Array(line.utf8)) }
            do { _ = try LineCodec.decode(Array(line.utf8)) } catch { #expect(error.code == .badMessage, "\(error)") }
        }

        /// ProtocolError's contract: messages "never repeat a token or a payload". Found by this fuzzer:
        /// messages quoted ids and values with `String.prefix(n)`, which counts grapheme clusters, and one
        /// cluster can hold a megabyte of combining marks: `d`, `k`, `fk` (decoding) and `i`, `f`, `v`
        /// (the plan check) were echoed whole. They are now quoted with `excerpt(_:)` (Unicode scalars).
        @Test("error messages do not echo the payload, even when it is one grapheme cluster",
              arguments: ["d", "k", "fk", "i", "f", "v"])
        func errorMessagesDoNotEchoThePayload(key: String) {
            // One grapheme cluster of 40,001 bytes; for `v`, one that is in NFC (é, then marks that do not compose).
            let cluster = (key == "v" ? "\u{E9}" : "e") + String(repeating: "\u{301}", count: 20_000)
            var op: [(String, String)] = [("d", "\"dev-a\""), ("s", "1"), ("t", "0"), ("c", "0"), ("k", "\"set\""), ("u", "\"muong-lay\""),
                                          ("i", "\"II.4\""), ("f", "\"status\""), ("v", "\"done\"")]
            if key == "fk" || key == "d" {
                op = op.filter { $0.0 != "f" } + [("n", "\"dev-a/1\""), ("fk", "\"observation\"")]
                op = op.map { $0.0 == "k" ? ("k", "\"finding_add\"") : $0 }
            }
            op = op.map { $0.0 == key ? (key, "\"\(cluster)\"") : $0 }
            let line = Array("push {\"ops\":[{\(op.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ","))}]}".utf8)
            var message = ""
            do {
                let decoded = try LineCodec.decode(line)
                // Decoded: the hub's next check is the plan's, the one HubStore.push makes.
                guard case .push(let push) = decoded, let first = push.ops.first else { Issue.record("not a push"); return }
                do { try first.validate(against: builtInPlan, unitIDs: ["muong-lay"]) } catch { message = error.message }
            } catch {
                message = error.message
            }
            #expect(!message.isEmpty, "'\(key)': the op was accepted")
            #expect(message.utf8.count <= ProtocolFuzzer.maximumMessageBytes, "'\(key)': an error message of \(message.utf8.count) bytes")
        }

        /// Found by the soak's fuzzer (seed 10178966763935923876, case 13078: `hello ` and 513 `[`):
        /// Foundation's JSONDecoder traps, instead of throwing, on a body whose last byte opens level 513,
        /// one past its nesting limit. One unauthenticated line crashed the hub; a bundle file crashed the
        /// importer. `LineCodec.decodeBody` now refuses bodies nested deeper than 64 levels first.
        @Test("a body that opens level 513 at its last byte is refused, not a crash",
              arguments: ["hello ", "pull ", "push ", "welcome ", "bye "])
        func aBodyOpeningLevel513AtItsEnd(verb: String) throws {
            for body in [String(repeating: "[", count: 513), String(repeating: "{\"a\":", count: 512) + "[",
                         String(repeating: "[", count: 65), "{\"cursor\":0,\"x\":" + String(repeating: "[", count: 512)] {
                do {
                    _ = try LineCodec.decode(Array((verb + body).utf8))
                    Issue.record("\(verb)\(body.prefix(20))…: decoded")
                } catch {
                    #expect(error.code == .badLine, "\(verb)\(body.prefix(20))…: \(error)")
                }
            }
            // 64 levels are still read as JSON (and refused for their shape).
            do { _ = try LineCodec.decode(Array(("pull {\"cursor\":0,\"x\":" + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "}").utf8)) } catch {
                Issue.record("64 levels: \(error)")
            }
            // The same op line in a bundle, signed.
            let valid = try #require(FuzzTests.corpus.bundles.first { (try? BundleFile.decode(Data($0))) != nil })
            let header = try #require(String(decoding: valid, as: UTF8.self).split(separator: "\n").first)
            let body = Array((header + "\nop " + String(repeating: "[", count: 513) + "\n").utf8)
            let bundle = body + Array("end {\"count\":1,\"sha256\":\"\(SHA256Hex.of(body))\"}\n".utf8)
            #expect(throws: ProtocolError.self) { try BundleFile.decode(Data(bundle)) }
        }

        /// Found by the soak's fuzzer (seed 5559835837906039991, case 1451, and three more): a welcome whose
        /// plan holds an invalid value (a unit `kind` of 4,001 characters) was refused with Foundation's
        /// description of the error, which quotes the value whole (a 4,102-byte message; 28 KB for others).
        @Test("a welcome whose plan holds a long invalid value is refused with a short message")
        func aWelcomeWithALongInvalidPlanValue() throws {
            let welcome = try #require(Self.corpus.lines.map { String(decoding: $0, as: UTF8.self) }
                .first { $0.hasPrefix("welcome ") && $0.contains("\"plan\":{") })
            let planStart = try #require(welcome.range(of: "\"plan\":{"))
            let kind = try #require(welcome.range(of: "\"kind\":\"direct\"", range: planStart.upperBound..<welcome.endIndex))
            let line = welcome.replacingCharacters(in: kind, with: "\"kind\":\"" + String(repeating: "x", count: 4001) + "\"")
            do {
                _ = try LineCodec.decode(Array(line.utf8))
                Issue.record("decoded")
            } catch {
                #expect(error.code == .badMessage, "\(error)")
                #expect(error.message.utf8.count <= ProtocolFuzzer.maximumMessageBytes, "a message of \(error.message.utf8.count) bytes")
            }
        }

        /// Inputs kept in `Fuzz/crashes/` (the libFuzzer target's form): each once broke a rule.
        @Test("the inputs kept in Fuzz/crashes meet every rule")
        func keptCrashInputs() throws {
            let folder = vectorsFolder.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/crashes")
            let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != "README.md" }.sorted()
            #expect(names.count >= 2, "Fuzz/crashes holds \(names)")
            let fuzzer = ProtocolFuzzer(corpus: Self.corpus)
            for name in names {
                var report = FuzzReport()
                fuzzer.check(fuzzInput: Array(try Data(contentsOf: folder.appendingPathComponent(name))), into: &report)
                #expect(report.failures.isEmpty, "Fuzz/crashes/\(name): \(report.failures)")
                #expect(report.cases == 0 && (report.decoded + report.refusals.values.reduce(0, +)) == 1, "Fuzz/crashes/\(name) was not checked")
            }
        }

        @Test("regression inputs")
        func regressionInputs() {
            let fuzzer = ProtocolFuzzer(corpus: Self.corpus)
            for regression in Self.regressions {
                var report = FuzzReport()
                fuzzer.check(line: regression.line, into: &report)
                #expect(report.failures.isEmpty, "\(regression.name): \(report.failures)")
            }
        }
    }
}
