/// `FJSON` holds only values (strings, numbers, bytes, arrays and objects of them), so it is
/// `Sendable`; said here explicitly because inferring it is what Swift 6.3 trips on: type-checking
/// `Mutator.jsonMutation` asks whether `[(String, FJSON)]` is `Sendable`, which asks it of `FJSON`,
/// which asks it of `[(String, FJSON)]` again, and the driver reports "circular reference" whenever
/// the module's files are batched so that `Mutator.swift` is checked before `FJSON.swift` (as adding
/// the hub session fuzzer's files did). With the conformance declared, nothing is inferred.
extension FJSON: @unchecked Sendable {}
