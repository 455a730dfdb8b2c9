import Foundation

// See SoakCommand.swift; docs/reliability.md records the runs.
exit(await SoakCommand.main(CommandLine.arguments))
