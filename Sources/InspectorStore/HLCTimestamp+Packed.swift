import InspectorCore

extension HLCTimestamp {
    /// The physical and logical parts in one integer that orders as the timestamp (the device, the
    /// last tie-break, aside): the bits of `millis << 16 | counter`, top bit flipped so that SQLite's
    /// signed order is time order. The log and the state store the clock this way.
    ///
    /// Defined for valid timestamps (``isValid``: `millis` below 2⁴⁸, `counter` below 2¹⁶); the
    /// store refuses any other before it packs it.
    package var packed: Int64 {
        Int64(bitPattern: (UInt64(truncatingIfNeeded: millis) << 16 | UInt64(truncatingIfNeeded: counter) & 0xFFFF) ^ (1 << 63))
    }

    /// A timestamp from its ``packed`` form and its device.
    package init(packed: Int64, device: String) {
        let bits = UInt64(bitPattern: packed) ^ (1 << 63)
        self.init(millis: Int64(bits >> 16), counter: Int64(bits & 0xFFFF), device: device)
    }
}
