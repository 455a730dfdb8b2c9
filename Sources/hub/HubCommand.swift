@main struct HubMain { static func main() { print("hub: under construction") } }
