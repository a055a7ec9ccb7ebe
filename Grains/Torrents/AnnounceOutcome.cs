using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>What one announce changed in the swarm's accounting.</summary>
/// <param name="Traffic">Raw and credited bytes since the peer's previous announce.</param>
/// <param name="Snatched">True when this announce completed the peer's download for the first time.</param>
/// <param name="SeedingSeconds">Time since the previous announce during which the peer was a seeder throughout.</param>
internal readonly record struct AnnounceOutcome(Traffic Traffic, bool Snatched, long SeedingSeconds = 0);
