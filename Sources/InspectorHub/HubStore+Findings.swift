import InspectorCore
import InspectorStore

// Findings and conflicts a page at a time, for the dashboard: it keeps every finding's and every
// conflicted field's entry and reads the findings and conflicts a page shows, instead of the whole
// dataset's texts and the ledger's versions.

extension HubStore {
    /// Every finding's entry, in the order of the dataset's findings (time, then id).
    public func findingEntries() async throws -> ReplicaStore.FindingEntries {
        try await replica.findingEntries()
    }

    /// The findings with these ids, whole, in the order of `ids` (an unknown id is left out).
    public func findings(ids: [String]) async throws -> [Dataset.Finding] {
        try await replica.findings(ids: ids)
    }

    /// Every conflicted field's entry (its value in use and how many other values it has), in the
    /// order of the dataset's conflicts.
    public func conflictEntries() async throws -> [ReplicaStore.ConflictEntry] {
        try await replica.conflictEntries()
    }

    /// The conflicts of these entries' fields, whole, as the hub holds them now, in the order of
    /// `entries` (a field no longer conflicted is left out).
    public func conflicts(of entries: [ReplicaStore.ConflictEntry]) async throws -> [Dataset.Conflict] {
        try await replica.conflicts(of: entries)
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
