/// The protocol fuzzer's mutations (``Mutator``) as a hub session applies them to the lines and
/// bundles it builds: seeded by the session's input, so a session replays exactly.
enum SessionMutations {
    /// A line after `rounds` of ``Mutator/mutateLine(_:random:corpus:)``.
    static func line(_ line: [UInt8], seed: UInt64, rounds: Int, corpus: FuzzCorpus) -> [UInt8] {
        var bytes = line
        var random = SplitMix64(seed: seed)
        for _ in 0..<rounds { Mutator.mutateLine(&bytes, random: &random, corpus: corpus) }
        return bytes
    }

    /// A bundle after ``Mutator/mutateBundle(_:random:corpus:)`` (often one line changed and the bundle re-signed).
    static func bundle(_ bundle: [UInt8], seed: UInt64, corpus: FuzzCorpus) -> [UInt8] {
        var bytes = bundle
        var random = SplitMix64(seed: seed)
        Mutator.mutateBundle(&bytes, random: &random, corpus: corpus)
        return bytes
    }
}
