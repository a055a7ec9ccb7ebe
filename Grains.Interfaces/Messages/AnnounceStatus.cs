namespace Chihaya.Orleans.Grains.Interfaces.Messages;

/// <summary>Whether the torrent grain accepted an announce.</summary>
[Alias("Chihaya.AnnounceStatus")]
public enum AnnounceStatus : byte
{
    Accepted = 0,
    /// <summary>The site does not know this info hash.</summary>
    TorrentNotRegistered = 1,
    /// <summary>The site deleted the torrent; the result carries its reason.</summary>
    TorrentDeleted = 2,
    /// <summary>The site's allowlist of clients does not include this peer id's client.</summary>
    ClientNotAllowed = 3,
    /// <summary>
    /// This activation of the swarm lost it to a newer one and is going: nothing was changed, and the same call
    /// made again reaches the activation that holds the swarm.
    /// </summary>
    SwarmMoved = 4,
    /// <summary>
    /// Received by a gateway so long ago that its caller gave up and the client has resent it, or stamped as far ahead
    /// of the swarm's clock (the gateway's clock is off): nothing was changed.
    /// </summary>
    TooOld = 5,
    /// <summary>The site knows no user with this passkey.</summary>
    UnknownPasskey = 6,
    /// <summary>The site forbids this user to download: a leecher's announce is refused (seeding and leaving are not).</summary>
    LeechingNotAllowed = 7,
}
