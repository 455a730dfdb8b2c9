import InspectorCore

/// Everything the hub's export files are made from: one consistent snapshot of the hub.
public struct ExportInput: Sendable {
    /// A supervisor's decision on a conflicting field.
    public struct Resolution: Hashable, Sendable {
        public var unit: String
        public var item: String
        public var field: String
        public var value: String
        /// The supervisor's name.
        public var by: String
        /// When it was decided (the resolution op's timestamp).
        public var timestamp: HLCTimestamp
        /// The sequence number of the hub's op that carries the decision.
        public var sequence: Int64
        public init(unit: String, item: String, field: String, value: String, by: String, timestamp: HLCTimestamp, sequence: Int64) {
            self.unit = unit
            self.item = item
            self.field = field
            self.value = value
            self.by = by
            self.timestamp = timestamp
            self.sequence = sequence
        }
    }

    /// One device's log as the hub verified it against the device's signed chain heads (PROTOCOL.md 19).
    public struct DeviceLog: Hashable, Sendable {
        public var device: String
        /// The fingerprint of the device's enrolled key, if any.
        public var key: String?
        /// The device's confirmed number: the hub holds its ops 1 through this.
        public var confirmed: Int64
        /// The verified run, `from…through`; nil when no signed head was verified.
        public var verified: ClosedRange<Int64>?
        public init(device: String, key: String?, confirmed: Int64, verified: ClosedRange<Int64>?) {
            self.device = device
            self.key = key
            self.confirmed = confirmed
            self.verified = verified
        }

        /// Every op the hub holds of the device, from its first, is verified.
        public var isVerified: Bool {
            guard let verified else { return confirmed == 0 }
            return verified.lowerBound == 1 && verified.upperBound >= confirmed
        }
    }

    public var dataset: Dataset
    /// Device id → the holder's name.
    public var holders: [String: String]
    /// Unit id → the day the team arrives.
    public var schedules: [String: CalendarDate]
    public var resolutions: [Resolution]
    /// Operations (`device#sequence`) written while their device's clock was off by more than 5 minutes.
    public var skewedOperations: Set<String>
    /// The day the export is made for: deadlines before it are flagged as passed.
    public var asOf: CalendarDate
    /// The hub's statement of each enrolled device's log (`logs.csv`); nil in a device's export.
    public var logs: [DeviceLog]?
    /// The hashes of the attachments' files the hub holds, exported under `attachments/`; nil when
    /// the export carries no files.
    public var heldFiles: Set<String>?

    public init(dataset: Dataset, holders: [String: String], schedules: [String: CalendarDate], resolutions: [Resolution],
                skewedOperations: Set<String>, asOf: CalendarDate, logs: [DeviceLog]? = nil, heldFiles: Set<String>? = nil) {
        self.logs = logs
        self.heldFiles = heldFiles
        self.dataset = dataset
        self.holders = holders
        self.schedules = schedules
        self.resolutions = resolutions
        self.skewedOperations = skewedOperations
        self.asOf = asOf
    }

    /// The holder's name of a device, or the device id when none is known; the hub's own decisions
    /// are attributed to "Tổ trưởng (hub)" (the resolution names the supervisor).
    public func holder(_ device: String) -> String {
        if let name = holders[device] { return name }
        return device == Identifier.hubDevice ? "Tổ trưởng (hub)" : device
    }

    /// Where an attachment's file is in the export folder (`attachments/<hash>.<ext>`), when the
    /// export carries it.
    public func exportedPath(of file: AttachmentDescriptor) -> String? {
        heldFiles?.contains(file.hash) == true ? "attachments/" + file.exportedFileName : nil
    }

    /// The deadlines of a unit.
    public func deadlines(for unit: Plan.Unit) -> Deadlines {
        Deadlines(plan: dataset.plan, kind: unit.kind, arrival: schedules[unit.id])
    }

    /// The resolution that decided a conflict, if its winner is that decision.
    public func resolution(of conflict: Dataset.Conflict) -> Resolution? {
        resolution(unit: conflict.unit, item: conflict.item, field: conflict.field, winner: conflict.winner)
    }

    /// The resolution that decided a field's conflict, if the value in use (`winner`) is that decision.
    public func resolution(unit: String, item: String, field: String, winner: Dataset.Version) -> Resolution? {
        guard winner.device == Identifier.hubDevice else { return nil }
        return resolutions.first { $0.unit == unit && $0.item == item && $0.field == field && $0.sequence == winner.sequence }
    }

    /// Whether an op was written with a clock more than 5 minutes off.
    public func isSkewed(_ version: Dataset.Version) -> Bool {
        skewedOperations.contains("\(version.device)#\(version.sequence)")
    }

    /// Items done of total, for a unit.
    public func progress(of unit: String) -> (done: Int, total: Int) {
        let done = dataset.values.filter { $0.unit == unit && $0.field == "status" && ($0.current.value == "done" || $0.current.value == "not_applicable") }.count
        return (done, dataset.plan.items.count)
    }
}

/// Times as people in Điện Biên read them: Vietnam time (UTC+7), dd/mm/yyyy HH:mm.
public enum VietnamTime {
    static let offsetMillis: Int64 = 7 * 3_600_000

    /// `dd/mm/yyyy HH:mm` in Vietnam time.
    public static func format(_ timestamp: HLCTimestamp) -> String {
        let local = timestamp.millis + offsetMillis
        let (days, ms) = floorDivMod(local, 86_400_000)
        let date = CalendarDate(daysSinceEpoch: days)
        return "\(date.vietnameseString) \(pad(ms / 3_600_000)):\(pad((ms / 60_000) % 60))"
    }

    /// `yyyy-mm-dd hh:mm:ss` in Vietnam time, which spreadsheets read as a date and time.
    public static func spreadsheet(_ timestamp: HLCTimestamp) -> String {
        let local = timestamp.millis + offsetMillis
        let (days, ms) = floorDivMod(local, 86_400_000)
        let date = CalendarDate(daysSinceEpoch: days)
        return "\(date.isoString) \(pad(ms / 3_600_000)):\(pad((ms / 60_000) % 60)):\(pad((ms / 1000) % 60))"
    }

    static func pad(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }

    static func floorDivMod(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        var q = a / b, r = a % b
        if r < 0 { q -= 1; r += b }
        return (q, r)
    }
}
