import InspectorCore
import InspectorStore

// Findings a page at a time, for the dashboard: it keeps every finding's entry (a few short
// strings) and reads the findings a page shows by id, instead of the whole dataset's texts.

extension HubStore {
    /// Every finding's entry, in the order of the dataset's findings (time, then id).
    public func findingEntries() async throws -> [ReplicaStore.FindingEntry] {
        try await replica.findingEntries()
    }

    /// The findings with these ids, whole, in the order of `ids` (an unknown id is left out).
    public func findings(ids: [String]) async throws -> [Dataset.Finding] {
        try await replica.findings(ids: ids)
    }

    /// The hashes of the files attached to `findings` that the hub holds (what an export links to).
    public func heldFiles(of findings: [Dataset.Finding]) -> Set<String> {
        let files = attachmentFiles
        return Set(findings.flatMap { $0.attachments.map(\.descriptor.hash) }).filter(files.holds)
    }

    /// The file of an attachment by its full hash, when an `attachment_add` the hub holds names it
    /// and the hub holds the file; nil otherwise (a malformed hash included).
    public func heldAttachment(hash: String) async throws -> AttachmentDescriptor? {
        guard hash.utf8.count == 64 else { return nil }
        let descriptor: AttachmentDescriptor
        do { descriptor = try await replica.attachment(hash) } catch let error as StoreError where error.code == .notFound || error.code == .invalidArgument {
            return nil
        }
        return attachmentFiles.holds(descriptor.hash) ? descriptor : nil
    }
}
