using Chihaya.Orleans.Grains.Interfaces.Messages;

namespace Chihaya.Orleans.Grains.Torrents;

/// <summary>
/// What one announce credits: the swarm's accounting of it, for the ledger. (The announce's answer is
/// <c>AnnounceResult</c> from the swarm to the gateway, and <c>AnnounceReply</c> from the gateway to the client.)
/// </summary>
/// <param name="Traffic">Raw and credited bytes since the peer's previous announce.</param>
/// <param name="Snatched">True when this announce is the first completion by the peer's user that this swarm has seen.</param>
/// <param name="SeedingSeconds">Time since the previous announce during which the peer was a seeder throughout.</param>
internal readonly record struct AnnounceCredit(Traffic Traffic, bool Snatched, long SeedingSeconds = 0);
