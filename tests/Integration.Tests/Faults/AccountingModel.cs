namespace Chihaya.Orleans.Integration.Tests.Faults;

/// <summary>Four byte columns as the site's tables have them: raw and credited, uploaded and downloaded.</summary>
public sealed class ByteSums
{
    public static readonly string[] Columns = ["raw_uploaded", "raw_downloaded", "credited_uploaded", "credited_downloaded"];

    public long[] Values { get; } = new long[4];

    public override string ToString() => $"[{string.Join(", ", Values)}]";
}

/// <summary>What a torrent's row must hold.</summary>
public sealed class TorrentExpectation
{
    public ByteSums Bytes { get; } = new();

    public long Snatches { get; set; }
}

/// <summary>What one user's row on one torrent (<c>user_torrents</c>) must hold.</summary>
public sealed class HistoryExpectation
{
    public ByteSums Bytes { get; } = new();

    public bool Completed { get; set; }

    /// <summary>Seeding seconds, as a range: the model knows when an announce was sent and answered, not the instant the tracker took it in.</summary>
    public long SeedingAtLeast { get; set; }

    public long SeedingAtMost { get; set; }

    /// <summary>
    /// When the reply to the announce that completed the download reached the client: a completion a crash forgot
    /// (README, "What a crash costs") was accepted shortly before the crash, and only such a row may lack seeding time.
    /// </summary>
    public DateTimeOffset? CompletionAnswered { get; set; }
}

/// <summary>
/// What the site's tables must hold, worked out from the README's accounting rules and the announces the clients
/// saw accepted. It is written from the rules alone, without any of the tracker's code, so that a mistake the two
/// shared could not hide. The rules: a peer's first announce (or first after <c>stopped</c>) only sets its baseline;
/// later announces credit the rise of its totals since its previous accepted one, unless a total went down (a client
/// restart: a new baseline); credited = raw × user multiplier × torrent multiplier, rounded down per announce; a
/// snatch once per user and torrent, when a peer's <c>left</c> goes from above 0 to 0; seeding time between two
/// announces at both of which the peer was a seeder, and up to a seeder's <c>stopped</c>.
/// </summary>
public sealed class AccountingModel
{
    private readonly Lock _gate = new();
    // Peers in the swarm, as the model sees it: the last accepted announce and the start of their current seeding.
    private readonly Dictionary<SimulatedPeer, PeerSeen> _peers = [];
    private readonly Dictionary<long, ByteSums> _users = [];
    private readonly Dictionary<long, TorrentExpectation> _torrents = [];
    private readonly Dictionary<(long User, long Torrent), HistoryExpectation> _history = [];

    /// <summary>When an announce reached the tracker: after its first attempt was sent, before its accepted reply came back.</summary>
    private readonly record struct Moment(DateTimeOffset Earliest, DateTimeOffset Latest);

    private sealed record PeerSeen(PeerAnnounce Last, Moment LastAt, Moment? SeedingSince);

    public IReadOnlyDictionary<long, ByteSums> Users => _users;

    public IReadOnlyDictionary<long, TorrentExpectation> Torrents => _torrents;

    public IReadOnlyDictionary<(long User, long Torrent), HistoryExpectation> History => _history;

    /// <summary>Takes in an accepted announce. A peer's announces must come in the order they were sent.</summary>
    public void Accepted(SimulatedPeer peer, PeerAnnounce announce, DateTimeOffset firstSent, DateTimeOffset answered)
    {
        lock (_gate)
        {
            var at = new Moment(firstSent, answered);
            var history = HistoryOf(peer);
            var user = _users.TryGetValue(peer.User.Id, out var sums) ? sums : _users[peer.User.Id] = new ByteSums();
            var torrent = _torrents.TryGetValue(peer.Torrent.Id, out var row) ? row : _torrents[peer.Torrent.Id] = new TorrentExpectation();
            var seeder = announce.Left == 0;
            if (!_peers.TryGetValue(peer, out var previous))
            {
                // A first announce: only the baseline. A seeder's seeding time starts here.
                _peers[peer] = new PeerSeen(announce, at, seeder ? at : null);
                return;
            }

            if (announce.Uploaded >= previous.Last.Uploaded && announce.Downloaded >= previous.Last.Downloaded)
            {
                var up = announce.Uploaded - previous.Last.Uploaded;
                var down = announce.Downloaded - previous.Last.Downloaded;
                // Whole multipliers: the product is whole, nothing to round down.
                long[] credit = [up, down, up * peer.User.UploadMultiplier * peer.Torrent.UploadMultiplier, down * peer.User.DownloadMultiplier * peer.Torrent.DownloadMultiplier];
                for (var c = 0; c < credit.Length; c++)
                {
                    user.Values[c] += credit[c];
                    torrent.Bytes.Values[c] += credit[c];
                    history.Bytes.Values[c] += credit[c];
                }
            }

            if (previous.Last.Left > 0 && seeder && !history.Completed)
            {
                history.Completed = true;
                history.CompletionAnswered = answered;
                torrent.Snatches++;
            }

            var seedingSince = seeder ? previous.SeedingSince ?? at : (Moment?)null;
            if (previous.SeedingSince is { } since && !seeder)
            {
                // Seeding ended at the previous announce.
                AddSeeding(history, since, previous.LastAt);
            }

            if (announce.Event == "stopped")
            {
                if (seedingSince is { } stoppedSeeding)
                {
                    AddSeeding(history, stoppedSeeding, at);
                }

                // Gone from the swarm: its next announce would be a first one again.
                _peers.Remove(peer);
                return;
            }

            _peers[peer] = new PeerSeen(announce, at, seedingSince);
        }
    }

    /// <summary>The model's totals, to show that a run moved real traffic.</summary>
    public string Summary
    {
        get
        {
            lock (_gate)
            {
                var raw = _users.Values.Sum(user => user.Values[0] + user.Values[1]);
                var credited = _users.Values.Sum(user => user.Values[2] + user.Values[3]);
                return $"model: {raw} raw and {credited} credited bytes, {_torrents.Values.Sum(t => t.Snatches)} snatches, " +
                    $"{_history.Count} history rows, {_history.Values.Sum(h => h.SeedingAtLeast)}..{_history.Values.Sum(h => h.SeedingAtMost)} seeding seconds";
            }
        }
    }

    /// <summary>Seeding of peers still in the swarm counts up to their last announce.</summary>
    public void CloseOpenSeeding()
    {
        lock (_gate)
        {
            foreach (var (peer, seen) in _peers)
            {
                if (seen.SeedingSince is { } since)
                {
                    AddSeeding(HistoryOf(peer), since, seen.LastAt);
                }
            }

            _peers.Clear();
        }
    }

    private HistoryExpectation HistoryOf(SimulatedPeer peer)
    {
        var key = (peer.User.Id, peer.Torrent.Id);
        return _history.TryGetValue(key, out var history) ? history : _history[key] = new HistoryExpectation();
    }

    /// <summary>
    /// The tracker counts whole seconds between announce times, so a span adds up to the difference of its ends in
    /// whole Unix seconds; the ends are known only within their announce's send and reply.
    /// </summary>
    private static void AddSeeding(HistoryExpectation history, Moment from, Moment to)
    {
        history.SeedingAtLeast += Math.Max(0, to.Earliest.ToUnixTimeSeconds() - from.Latest.ToUnixTimeSeconds());
        history.SeedingAtMost += to.Latest.ToUnixTimeSeconds() - from.Earliest.ToUnixTimeSeconds();
    }
}
