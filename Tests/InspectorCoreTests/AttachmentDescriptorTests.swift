import Foundation
import InspectorCore
@testable import InspectorTestSupport
import Testing

/// The attachment descriptor (PROTOCOL.md 6.6) and type sniffing, replayed from
/// `Protocol/vectors/attachments/`, and the `attachment_add` op in the merge rules.
@Suite struct AttachmentDescriptorTests {
    struct DescriptorVectors: Decodable {
        struct Valid: Decodable { var value: String; var hash: String; var size: Int64; var type: String; var name: String }
        struct Invalid: Decodable { var value: String; var why: String }
        var valid: [Valid]
        var invalid: [Invalid]
    }

    struct SniffVector: Decodable { var hex: String; var type: String? }

    static func hexBytes(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    @Test func theDescriptorVectorsReadOrFailAsTheySay() throws {
        let vectors = try JSONDecoder().decode(DescriptorVectors.self, from: Vectors.data("attachments/descriptors.json"))
        #expect(vectors.valid.count >= 6 && vectors.invalid.count >= 15)
        for vector in vectors.valid {
            let descriptor = try AttachmentDescriptor(parsing: vector.value)
            #expect(descriptor.hash == vector.hash && descriptor.size == vector.size && descriptor.type.rawValue == vector.type)
            #expect(Array(descriptor.name.utf8) == Array(vector.name.utf8), "the name keeps its bytes")
            #expect(Array(descriptor.value.utf8) == Array(vector.value.utf8), "the value is written back byte for byte")
        }
        for vector in vectors.invalid {
            #expect(throws: CoreError.self, "\(vector.why): '\(vector.value)'") { try AttachmentDescriptor(parsing: vector.value) }
        }
    }

    @Test func theSniffVectorsNameTheirType() throws {
        let vectors = try JSONDecoder().decode([SniffVector].self, from: Vectors.data("attachments/sniff.json"))
        #expect(Set(vectors.compactMap(\.type)) == Set(AttachmentDescriptor.MediaType.allCases.map(\.rawValue)), "every type has a vector")
        for vector in vectors {
            #expect(AttachmentDescriptor.MediaType.sniff(Self.hexBytes(vector.hex))?.rawValue == vector.type, "\(vector.hex)")
        }
    }

    @Test func theTransferVectorsFileHasItsDescriptor() throws {
        struct Transfer: Decodable { var size: Int64; var sha256: String; var descriptor: String; var type: String }
        let transfer = try JSONDecoder().decode(Transfer.self, from: Vectors.data("attachments/transfer.json"))
        let descriptor = try AttachmentDescriptor(parsing: transfer.descriptor)
        #expect(descriptor.hash == transfer.sha256 && descriptor.size == transfer.size && descriptor.type.rawValue == transfer.type)
        #expect(descriptor.exportedFileName == transfer.sha256 + ".jpg")
    }

    @Test func aDescriptorIsCheckedWhenMade() {
        let hash = String(repeating: "ab", count: 32)
        #expect(throws: CoreError.self) { try AttachmentDescriptor(hash: hash.uppercased(), size: 1, type: .png, name: "a.png") }
        #expect(throws: CoreError.self) { try AttachmentDescriptor(hash: hash, size: 0, type: .png, name: "a.png") }
        #expect((try? AttachmentDescriptor(hash: hash, size: AttachmentDescriptor.maximumSize, type: .png, name: "a.png")) != nil)
        let over = coreError { _ = try AttachmentDescriptor(hash: hash, size: AttachmentDescriptor.maximumSize + 1, type: .png, name: "a.png") }
        #expect(over?.code == .attachmentTooLarge)
        #expect(coreError { _ = try AttachmentDescriptor(hash: hash, size: .max, type: .pdf, name: "x") }?.code == .attachmentTooLarge)
        for name in ["", " a.jpg", "a.jpg ", "a/b.jpg", "a\\b.jpg", "..", ".", "a\u{7}.jpg", "a\u{85}.jpg", "Bie\u{0302}\u{0301}n.jpg",
                     String(repeating: "ả", count: 100)] {
            #expect(coreError { try AttachmentDescriptor.checkName(name) }?.code == .invalidValue, "'\(name)'")
        }
        #expect((try? AttachmentDescriptor.checkName("Biên bản kiểm tra (bản 2).jpg")) != nil)
    }

    @Test func theParserSplitsOnSpacesNotOnGraphemes() throws {
        let hash = String(repeating: "0f", count: 32)
        // The name starts with a combining mark: legal, and kept (a grapheme split would glue it to the space).
        let marked = try AttachmentDescriptor(parsing: "\(hash) 10 image/png \u{301}tên.png")
        #expect(marked.name.unicodeScalars.first == "\u{301}")
        #expect(throws: CoreError.self) { try AttachmentDescriptor(parsing: "\(hash) 10 image/png  \u{301}tên.png") }
        #expect(throws: CoreError.self) { try AttachmentDescriptor(parsing: "\(hash) 010 image/png a.png") }
        #expect(throws: CoreError.self) { try AttachmentDescriptor(parsing: "\(hash) 99999999999999999999 image/png a.png") }
        #expect(throws: CoreError.self) { try AttachmentDescriptor(parsing: "\(hash) 10 image/png") }
    }

    // MARK: - The op

    static let t = HLCTimestamp(millis: 1_718_845_320_000, counter: 0, device: "dev-a")

    static func attach(_ finding: String = "dev-a/1", unit: String = "muong-lay", item: String? = "II.4", value: String? = nil, sequence: Int64 = 2,
                       at timestamp: HLCTimestamp = t) -> Op {
        Op(device: "dev-a", sequence: sequence, timestamp: timestamp, kind: .attachmentAdd, unit: unit, item: item, finding: finding,
           value: value ?? "\(String(repeating: "1a", count: 32)) 2048 image/jpeg ảnh.jpg")
    }

    @Test func anAttachmentOpIsValidatedAgainstThePlanAndItsDescriptor() throws {
        let units = Set(builtInPlan.units.map(\.id))
        try Self.attach().validate(against: builtInPlan, unitIDs: units)
        try Self.attach(item: nil).validate(against: builtInPlan, unitIDs: units)
        #expect(coreError { try Self.attach(item: "IX.9").validate(against: builtInPlan, unitIDs: units) }?.code == .unknownItem)
        #expect(coreError { try Self.attach(value: "not a descriptor").validate(against: builtInPlan, unitIDs: units) }?.code == .invalidValue)
        var withField = Self.attach()
        withField.field = "status"
        #expect(coreError { try withField.validateShape() }?.code == .malformedOperation)
        #expect(coreError { try Self.attach("").validateShape() }?.code == .malformedOperation)
    }

    @Test func aReferenceToAFindingIsCheckedLikeARetraction() {
        let op = Self.attach()
        #expect(op.referencedFinding == "dev-a/1" && op.referencesOwnFinding)
        #expect(!Self.attach("dev-b/1").referencesOwnFinding)
        #expect(coreError { try op.checkReference(of: nil) }?.code == .unknownFinding)
        #expect(coreError { try op.checkReference(of: FindingLocation(unit: "so-y-te", item: "II.4")) }?.code == .retractionMismatch)
        #expect((try? op.checkReference(of: FindingLocation(unit: "muong-lay", item: "II.4"))) != nil)
        #expect(coreError { try op.checkReference(of: nil) }?.message.contains("attaches a file to") == true)
    }

    @Test func theMergedDatasetListsAFindingsFilesInTimeOrderAndTheJSONShowsThem() throws {
        var state = MergeState()
        let finding = Op.findingAdd(device: "dev-a", sequence: 1, timestamp: Self.t, unit: "muong-lay", item: "II.4", kind: .shortcoming, text: "Thiếu hồ sơ")
        let later = HLCTimestamp(millis: Self.t.millis + 5, counter: 0, device: "dev-a")
        state.apply(Self.attach(value: "\(String(repeating: "2b", count: 32)) 10 image/png sau.png", sequence: 3, at: later))
        state.apply(finding)
        state.apply(Self.attach(at: HLCTimestamp(millis: Self.t.millis + 1, counter: 0, device: "dev-a")))
        let dataset = state.dataset(plan: builtInPlan, units: builtInPlan.units)
        let files = try #require(dataset.findings.first).attachments
        #expect(files.map(\.descriptor.name) == ["ảnh.jpg", "sau.png"])
        let json = dataset.canonicalJSON()
        #expect(json.contains("\"attachments\": [") && json.contains("\"type\": \"image/jpeg\"") && json.contains("\"size\": 2048"))
        // A dataset without files keeps its bytes: no "attachments" key at all.
        var plain = MergeState()
        plain.apply(finding)
        #expect(!plain.dataset(plan: builtInPlan, units: builtInPlan.units).canonicalJSON().contains("attachments"))
        let changes = dataset.changes(since: plain.dataset(plan: builtInPlan, units: builtInPlan.units))
        #expect(changes.map(\.description) == [
            "attached to dev-a/1: ảnh.jpg (image/jpeg, 2048 bytes, sha256 1a1a1a1a…; dev-a#2)",
            "attached to dev-a/1: sau.png (image/png, 10 bytes, sha256 2b2b2b2b…; dev-a#3)",
        ])
    }
}
