import InspectorCore
import InspectorProtocol

/// What the hub's server needs of its storage: who the devices are, and the log they push to and
/// pull from.
///
/// ``HubStore`` (one SQLite file, through GRDB) is the implementation; a second store (PostgreSQL,
/// for a hub serving many provinces) implements the same requirements, and the server, the
/// protocol and the tests of the protocol's vectors run over it unchanged. Every requirement is
/// async except those answered from memory; every error thrown is an ``InspectorCore/InspectorError``,
/// which the server turns into a wire error in one place (`ProtocolError.init(answering:sequence:)`).
///
/// An implementation must keep the guarantees of `Protocol/PROTOCOL.md`: a push is applied all or
/// nothing and is durable before ``push(_:from:scope:clockOffset:)`` returns; log positions only
/// grow; a pull never returns an operation twice for the same cursor.
public protocol HubStorage: Sendable {
    /// The plan the hub follows.
    var plan: Plan { get }
    /// The units the hub knows, as of the last ``reloadUnits()``.
    var units: [Plan.Unit] { get }
    /// The hub's wall clock, ms since the epoch.
    func now() -> Int64
    /// Reads the units again (another process may have added one).
    func reloadUnits() async throws

    /// The enrolled, not revoked device with this id, admitted by its key over TLS or by its
    /// enrollment secret (which then enrolls `key`); nil otherwise (the caller cannot tell which).
    /// See ``HubStore/authenticate(device:token:key:)`` for the rules every storage follows.
    ///
    /// - Throws: ``InspectorProtocol/ProtocolError`` `enrollment_used` or `enrollment_expired` for a
    ///   right secret that can no longer enroll.
    func authenticate(device: String, token: String, key: KeyFingerprint?) async throws -> HubStore.Device?
    /// The enrolled device with this id, revoked or not.
    func device(_ id: String) async throws -> HubStore.Device?
    /// The units a device may write and read: its assigned units and every unit below them.
    func scope(of device: HubStore.Device) -> Set<String>
    /// The highest of the device's sequence numbers held with every one before it (PROTOCOL.md 10.4).
    func confirmed(device: String) async throws -> Int64
    /// Records the end of a handshake: when, and the device's clock offset.
    func recordHandshake(device: String, at time: Int64, clockOffset: Int64) async throws
    /// Keeps a device's latest report of the pulled ops it holds back.
    func recordHeldBack(device: String, report: Message.HeldBackReport, at time: Int64) async throws
    func authorKeys() async throws -> [String: String]

    /// Applies a device's push, all or nothing, durably, and answers it (PROTOCOL.md 10).
    func push(_ push: Message.Push, from device: HubStore.Device, scope: Set<String>, clockOffset: Int64) async throws(ProtocolError) -> Message.Pushed
    /// The next batch of operations for a device (PROTOCOL.md 11); when `compact`, without the `set`
    /// ops that a later one of the same author on the same field supersedes (11.6).
    func pull(after cursor: Int64, limit: Int, for device: String, scope: Set<String>, compact: Bool) async throws -> Message.OpsBatch
    /// How many operations a pull from `cursor` would deliver to the device now (PROTOCOL.md 4.2 `to_pull`).
    func pullCount(after cursor: Int64, for device: String, scope: Set<String>, compact: Bool) async throws -> Int

    /// Answers a device's `offer` of an attachment's file: the bytes held durably (PROTOCOL.md 20).
    func offer(_ offer: Message.Offer, from device: String) async throws(ProtocolError) -> Message.FileState
    /// Takes a chunk of a file the session offered, durably, before it is acknowledged (PROTOCOL.md 20).
    func store(_ chunk: Message.Chunk, size: Int64) async throws(ProtocolError) -> Message.FileState
    /// The size of a whole file the hub holds that an `attachment_add` in `scope` names, for a
    /// device's `fetch` (PROTOCOL.md 20.4).
    func fetchable(_ hash: String, scope: Set<String>) async throws(ProtocolError) -> Int64
    /// Up to `count` bytes of a held file from `offset`.
    func readFile(_ hash: String, at offset: Int64, count: Int) async throws(ProtocolError) -> [UInt8]
}

extension HubStore: HubStorage {
    public var plan: Plan { replica.plan }
    public var units: [Plan.Unit] { replica.units }
    public func now() -> Int64 { replica.clock() }
    public func reloadUnits() async throws { try await replica.reloadUnits() }
}
