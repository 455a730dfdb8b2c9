import Foundation
import InspectorCore
@testable import InspectorProtocol
import Testing

/// `OpsLineReader`: the hand-written fast path for `push` and `ops` lines agrees with the full reader,
/// and leaves everything outside this implementation's own form to it.
@Suite struct OpsLineReaderTests {
    static let ops: [Op] = [
        .set(device: "dev-a", sequence: 1, timestamp: HLCTimestamp(millis: 1_718_845_320_000, counter: 0, device: "dev-a"),
             unit: "muong-lay", item: "II.5", field: "fund_percent", value: "12.5"),
        .findingAdd(device: "dev-a", sequence: 2, timestamp: HLCTimestamp(millis: 1_718_845_320_000, counter: 1, device: "dev-a"),
                    unit: "muong-lay", item: nil, kind: .goodPractice, text: "Mô hình “Dân vận khéo” ở bản Huổi Lóng — tốt…"),
        .findingRetract(device: "dev-b", sequence: Int64.max, timestamp: HLCTimestamp(millis: 0, counter: 65_535, device: "dev-b"),
                        unit: "muong-lay", item: nil, finding: "dev-a/2", reason: "Ghi trùng"),
    ]

    @Test func linesOfThisImplementationTakeTheFastPathAndReadAsTheFullReaderReadsThem() throws {
        let messages: [Message] = [
            .push(Message.Push(ops: Self.ops, withdrawn: [3, 9])), .push(Message.Push(ops: [])),
            .ops(Message.OpsBatch(ops: Self.ops, cursor: 41, more: true)), .ops(Message.OpsBatch(ops: [], cursor: 0, more: false)),
        ]
        for message in messages {
            let line = Array(LineCodec.encode(message).dropLast())
            let (verb, body) = try LineCodec.split(line)
            let fast = try #require(OpsLineReader.read(verb: verb, body: body), "\(message.verb) did not take the fast path")
            #expect(fast == message)
            #expect(try LineCodec.decodeInFull(line) == fast)
        }
    }

    /// Every variation the fast path does not read is left to the full reader, which decides.
    @Test(arguments: [
        #"{"ops":[{"s":1,"d":"dev-a","t":1718845320000,"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"status","v":"done"}],"withdrawn":[]}"#,  // key order
        #"{"ops":[{"d":"dev-a","s":1,"t":1718845320000,"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"status","v":"d\u006fne"}],"withdrawn":[]}"#,  // an escape
        #"{"ops":[{"d":"dev-a","s":1,"t":1718845320000,"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"status","v":"done","x":1}],"withdrawn":[]}"#,  // unknown key
        #"{"ops":[{"d":"dev-a","s":1.0,"t":1718845320000,"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"status","v":"done"}],"withdrawn":[]}"#,  // 1.0
        #"{"ops":[{"d":"dev-a","s":01,"t":1718845320000,"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"status","v":"done"}],"withdrawn":[]}"#,  // leading zero
        #"{"ops":[{"d":"dev-a","s":9223372036854775808,"t":1718845320000,"c":0,"k":"set","u":"muong-lay","i":"II.4","f":"status","v":"done"}],"withdrawn":[]}"#,
        #"{"ops":[{"d":"dev-a","s":1,"t":1718845320000,"c":0,"k":"set","u":"muong-lay","i":null,"f":"status","v":"done"}],"withdrawn":[]}"#,  // null
        #"{"ops":[{"d":"dev-a","s":1,"t":1718845320000,"c":70000,"k":"set","u":"muong-lay","i":"II.4","f":"status","v":"done"}],"withdrawn":[]}"#,  // shape
        #"{"ops":[{"d":"dev-a","s":1,"t":1718845320000,"c":0,"k":"photo","u":"muong-lay","v":"x"}],"withdrawn":[]}"#,  // unknown kind
        #"{"ops": [],"withdrawn":[]}"#,  // white space
        #"{"ops":[]}"#,  // no withdrawn
        #"{"ops":[],"withdrawn":[],"extra":true}"#,
    ])
    func otherFormsAreLeftToTheFullReader(body: String) throws {
        #expect(OpsLineReader.read(verb: "push", body: Data(body.utf8)) == nil)
        let line = Array("push \(body)".utf8)
        // Through LineCodec.decode the answer (a message or an error) is the full reader's.
        let viaDecode = Result { () throws(ProtocolError) -> Message in try LineCodec.decode(line) }
        let full = Result { () throws(ProtocolError) -> Message in try LineCodec.decodeInFull(line) }
        #expect(viaDecode == full)
    }

    @Test func anOpsLineWithAnUnreadableElementIsTheFullReadersToo() throws {
        let body = #"{"ops":[{"d":"dev-b","s":3,"t":1718845320000,"c":0,"k":"photo","u":"muong-lay","v":"x"}],"cursor":5,"more":false}"#
        #expect(OpsLineReader.read(verb: "ops", body: Data(body.utf8)) == nil)
        guard case .ops(let batch) = try LineCodec.decode(Array("ops \(body)".utf8)) else { Issue.record("not an ops message"); return }
        #expect(batch.ops.isEmpty && batch.unreadable.count == 1 && batch.cursor == 5)
    }
}
