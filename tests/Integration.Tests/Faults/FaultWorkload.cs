using System.Collections.Concurrent;
using System.Net;
using Chihaya.Orleans.TestSupport;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Faults;

/// <summary>
/// A site member as seeded. Multipliers are whole numbers, so crediting each announce's delta rounded down and
/// crediting a merged delta (what the tracker does after a crash forgot announces) give the same bytes.
/// </summary>
public sealed record SiteUser(long Id, string Passkey, int UploadMultiplier, int DownloadMultiplier);

/// <summary>A torrent as seeded; a download multiplier of 0 is freeleech.</summary>
public sealed record SiteTorrent(long Id, byte[] InfoHash, int UploadMultiplier, int DownloadMultiplier, long Size);

/// <summary>What one announce reports: the client's session totals and its event.</summary>
public readonly record struct PeerAnnounce(long Uploaded, long Downloaded, long Left, string? Event);

/// <summary>
/// One simulated client: one user on one torrent, with its own peer id and port and the totals it reports.
/// Its announces are strictly one after another; its totals only grow, so no announce looks like a client restart.
/// </summary>
public sealed class SimulatedPeer(int index, SiteUser user, SiteTorrent torrent, int port, PeerAnnounce start, Random random)
{
    private static readonly double SmallestTransfer = Math.Log(1024);
    private static readonly double LargestTransfer = Math.Log(2L << 30);

    public int Index { get; } = index;

    public SiteUser User { get; } = user;

    public SiteTorrent Torrent { get; } = torrent;

    public Announcer Announcer { get; } = new(user.Passkey, torrent.InfoHash, UrlBytes.Random20(), port);

    public long Uploaded { get; private set; } = start.Uploaded;

    public long Downloaded { get; private set; } = start.Downloaded;

    public long Left { get; private set; } = start.Left;

    public PeerAnnounce Started() => new(Uploaded, Downloaded, Left, "started");

    /// <summary>The next regular announce: more uploaded, more downloaded while leeching, <c>completed</c> when left reaches 0.</summary>
    public PeerAnnounce Next()
    {
        Uploaded += Transfer();
        if (Left == 0)
        {
            return new PeerAnnounce(Uploaded, Downloaded, Left, null);
        }

        var down = Math.Min(Left, Transfer());
        Downloaded += down;
        Left -= down;
        return new PeerAnnounce(Uploaded, Downloaded, Left, Left == 0 ? "completed" : null);
    }

    /// <summary>The goodbye: the same totals as the announce before it.</summary>
    public PeerAnnounce Stopped() => new(Uploaded, Downloaded, Left, "stopped");

    /// <summary>A goodbye that reports traffic since the last announce, as a client quitting mid-session does.</summary>
    public PeerAnnounce NextStopped() => Next() with { Event = "stopped" };

    /// <summary>Bytes moved since the last announce: now and then none, otherwise from a KiB to 2 GiB, evenly spread over the magnitudes.</summary>
    private long Transfer() =>
        random.Next(10) == 0 ? 0 : (long)Math.Exp(SmallestTransfer + (random.NextDouble() * (LargestTransfer - SmallestTransfer)));
}

/// <summary>
/// A site with many users, torrents and peers, and the clients that announce for them against a gateway: every peer
/// joins, then peers announce growing totals, as fast as the cluster answers with a bounded number in flight, and at
/// the end each sends a last announce and <c>stopped</c>. A refused or failed announce is resent with the same totals
/// after a short pause until it is accepted, as real clients do. Every accepted announce goes to the
/// <see cref="AccountingModel"/>, every attempt to the <see cref="ServiceRecord"/>.
/// </summary>
public sealed class FaultWorkload
{
    /// <summary>Announces in flight at once.</summary>
    public const int Concurrency = 24;

    private const int UserCount = 60;
    private const int TorrentCount = 40;
    private const int PeerCount = 300;

    // A client's pause before it resends; short, so an outage shows as the time it really lasted.
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(200);

    // Longer than the gateway's own grain call timeout (5 s), so the gateway answers before the client gives up.
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(15);

    // Far beyond any outage a scenario causes: only a cluster that does not come back ends a run this way.
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(150);

    // Per torrent, when its last peer's first announce had been answered.
    private readonly ConcurrentDictionary<long, DateTimeOffset> _joined = new();
    private readonly List<SiteTorrent> _torrents;
    private readonly List<SimulatedPeer> _peers;

    private FaultWorkload(IReadOnlyList<SiteUser> users, List<SiteTorrent> torrents, List<SimulatedPeer> peers)
    {
        Users = users;
        _torrents = torrents;
        _peers = peers;
    }

    public IReadOnlyList<SiteUser> Users { get; }

    public IReadOnlyList<SiteTorrent> Torrents => _torrents;

    /// <summary>Every peer: those seeded, and those of swarms opened during the run (<see cref="OpenNewSwarmsAsync"/>).</summary>
    public IReadOnlyList<SimulatedPeer> Peers => _peers;

    public AccountingModel Model { get; } = new();

    public ServiceRecord Service { get; } = new();

    /// <summary>Writes the users and torrents into the site's tables, as the site would, and makes their peers.</summary>
    public static async Task<FaultWorkload> SeedAsync(PostgresTestDatabase db, int seed = 20260314)
    {
        var random = new Random(seed);
        var users = new List<SiteUser>();
        for (var i = 1; i <= UserCount; i++)
        {
            // Every fifth user uploads double; every seventh is credited no download at all.
            var user = new SiteUser(i, $"faultsuser{i:D6}passkey", i % 5 == 0 ? 2 : 1, i % 7 == 3 ? 0 : 1);
            users.Add(user);
            await db.ExecuteAsync(
                "insert into users (id, passkey, upload_multiplier, download_multiplier) values ($1, $2, $3, $4)",
                user.Id, user.Passkey, (decimal)user.UploadMultiplier, (decimal)user.DownloadMultiplier);
        }

        var torrents = new List<SiteTorrent>();
        for (var i = 1; i <= TorrentCount; i++)
        {
            // Every fourth torrent freeleech, every fifth double upload; sizes from 50 MB to 500 GB, so some
            // leechers complete within a run and others never do.
            var size = (long)Math.Exp(Math.Log(50e6) + (random.NextDouble() * (Math.Log(500e9) - Math.Log(50e6))));
            var torrent = new SiteTorrent(i, UrlBytes.Random20(), i % 5 == 1 ? 2 : 1, i % 4 == 0 ? 0 : 1, size);
            torrents.Add(torrent);
            await db.ExecuteAsync(
                "insert into torrents (id, info_hash, upload_multiplier, download_multiplier) values ($1, $2, $3, $4)",
                torrent.Id, torrent.InfoHash, (decimal)torrent.UploadMultiplier, (decimal)torrent.DownloadMultiplier);
        }

        var peers = new List<SimulatedPeer>();
        for (var i = 0; i < PeerCount; i++)
        {
            // Users have peers on several torrents, now and then two on the same one (another client of theirs).
            var user = users[random.Next(users.Count)];
            var torrent = torrents[random.Next(torrents.Count)];
            var seeder = random.Next(100) < 35;
            var left = seeder ? 0 : (long)(torrent.Size * (0.2 + (0.8 * random.NextDouble())));
            // Half the clients resume a session with totals already counted elsewhere: a first announce that
            // credited them would show.
            var resumed = random.Next(2) == 0;
            var start = new PeerAnnounce(resumed ? random.NextInt64(1L << 33) : 0, resumed && !seeder ? torrent.Size - left : 0, left, "started");
            peers.Add(new SimulatedPeer(i, user, torrent, 20000 + i, start, new Random(random.Next())));
        }

        return new FaultWorkload(users, torrents, peers);
    }

    /// <summary>
    /// Torrents the site registers during the run, each joined by one peer (a leecher of an existing user) through
    /// the load balancer: swarms activated now, so a silo that joined meanwhile can take them. Their peers stay until
    /// <see cref="FinishAsync"/>, and the model holds their announces like every other.
    /// </summary>
    public async Task<IReadOnlyList<SiteTorrent>> OpenNewSwarmsAsync(PostgresTestDatabase db, HttpClient http, int count)
    {
        var random = new Random(_torrents.Count);
        var opened = new List<SiteTorrent>();
        for (var i = 0; i < count; i++)
        {
            var torrent = new SiteTorrent(_torrents.Count + 1, UrlBytes.Random20(), 1, 1, 1L << 30);
            await db.ExecuteAsync("insert into torrents (id, info_hash) values ($1, $2)", torrent.Id, torrent.InfoHash);
            _torrents.Add(torrent);
            opened.Add(torrent);
        }

        var newcomers = opened.Select((torrent, i) => new SimulatedPeer(
            _peers.Count + i, Users[random.Next(Users.Count)], torrent, 40000 + _peers.Count + i, new PeerAnnounce(0, 0, torrent.Size, "started"), new Random(random.Next()))).ToList();
        await Parallel.ForEachAsync(newcomers, new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (peer, _) =>
            await AnnounceUntilAcceptedAsync(http, peer, peer.Started()));
        lock (_peers)
        {
            _peers.AddRange(newcomers);
        }

        return opened;
    }

    /// <summary>Every peer's first announce (<c>started</c>), a bounded number at a time. Done before any fault.</summary>
    public async Task JoinAsync(HttpClient http)
    {
        Service.Mark("join");
        await Parallel.ForEachAsync(Peers, new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (peer, _) =>
        {
            await AnnounceUntilAcceptedAsync(http, peer, peer.Started());
            var answered = DateTimeOffset.UtcNow;
            _joined.AddOrUpdate(peer.Torrent.Id, answered, (_, earlier) => earlier > answered ? earlier : answered);
        });
    }

    /// <summary>
    /// Waits until every swarm has stored its peers' first announces. A crash forgets what a swarm took in since it last
    /// wrote its state, and a forgotten first announce makes the peer's next one a first one, whose traffic is lost by
    /// the rules: the README's crash bound. So no fault may strike before. A swarm writes its peers in the transaction that
    /// writes their history rows, so a history row stamped with an announce taken in after the torrent's last join shows it.
    /// </summary>
    public Task WaitUntilJoinsStoredAsync(PostgresTestDatabase db) =>
        Eventually.TrueAsync(
            async () =>
            {
                var stamped = new Dictionary<long, DateTimeOffset>();
                await using var command = db.DataSource.CreateCommand(
                    "select torrent_id, max(last_announce_at) from user_torrents where last_announce_at is not null group by torrent_id");
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    stamped[reader.GetInt64(0)] = reader.GetFieldValue<DateTimeOffset>(1);
                }

                return _joined.All(torrent => stamped.TryGetValue(torrent.Key, out var latest) && latest > torrent.Value);
            },
            "every swarm stored its peers' first announces",
            pollDelay: TimeSpan.FromMilliseconds(100));

    /// <summary>
    /// Starts the steady load; it runs until <see cref="LoadRun.StopAsync"/>. With <paramref name="peersComeAndGo"/>,
    /// now and then a peer stops (reporting traffic with its goodbye) and joins again, as clients do all day: what a
    /// graceful fault must not lose, and what a crash is allowed to (see the README's crash bound).
    /// </summary>
    public LoadRun StartLoad(HttpClient http, bool peersComeAndGo)
    {
        Service.Mark("load");
        return new LoadRun(this, http, peersComeAndGo);
    }

    /// <summary>After the last fault has healed: each peer's last announce with new totals, then <c>stopped</c> with the same totals.</summary>
    public async Task FinishAsync(HttpClient http)
    {
        Service.Mark("finish");
        await Parallel.ForEachAsync(Peers, new ParallelOptions { MaxDegreeOfParallelism = Concurrency },
            async (peer, _) =>
            {
                await AnnounceUntilAcceptedAsync(http, peer, peer.Next());
                await AnnounceUntilAcceptedAsync(http, peer, peer.Stopped());
            });
        Service.Mark("finished");
    }

    /// <summary>Sends one announce until the tracker accepts it, with the same totals every time.</summary>
    internal async Task AnnounceUntilAcceptedAsync(HttpClient http, SimulatedPeer peer, PeerAnnounce announce)
    {
        var url = peer.Announcer.Url(announce.Uploaded, announce.Downloaded, announce.Left, announce.Event);
        // The tracker may have taken in an attempt whose answer got lost: the earliest send bounds when it saw the announce.
        var firstSent = DateTimeOffset.UtcNow;
        while (true)
        {
            var failure = await TryAnnounceAsync(http, url);
            if (failure is null)
            {
                Service.RecordAccepted();
                Model.Accepted(peer, announce, firstSent, DateTimeOffset.UtcNow);
                return;
            }

            Service.RecordFailure(failure);
            if (DateTimeOffset.UtcNow - firstSent > GiveUpAfter)
            {
                throw new TimeoutException($"peer {peer.Index}: no announce accepted for {GiveUpAfter.TotalSeconds} s; the last attempt: {failure}");
            }

            await Task.Delay(RetryPause);
        }
    }

    /// <summary>One attempt: null when accepted, else what went wrong, short enough to count alike failures together.</summary>
    private static async Task<string?> TryAnnounceAsync(HttpClient http, string url)
    {
        try
        {
            using var timeout = new CancellationTokenSource(AttemptTimeout);
            using var response = await http.GetAsync(url, timeout.Token);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return $"HTTP {(int)response.StatusCode}";
            }

            return FailureReason(Bencode.DecodeDictionary(body)) is { } reason ? $"failure reason '{reason}'" : null;
        }
        catch (HttpRequestException exception)
        {
            return $"{nameof(HttpRequestException)} ({exception.HttpRequestError})";
        }
        catch (Exception exception)
        {
            // A timeout, or a body that is no bencoded dictionary: either way no answer a client could use.
            return exception.GetType().Name;
        }
    }
}

/// <summary>
/// The steady load: <see cref="FaultWorkload.Concurrency"/> workers take turns over all peers, each sending one
/// peer's next announce (until accepted) before taking the next peer, so a peer never has two announces in flight.
/// </summary>
public sealed class LoadRun
{
    private readonly FaultWorkload _workload;
    private readonly HttpClient _http;
    private readonly Queue<SimulatedPeer> _idle;
    private readonly Lock _gate = new();
    // One peer's turn in this many is a goodbye and a new session, when peers come and go.
    private const int ComeAndGoOneIn = 25;

    private readonly Task[] _workers;
    private readonly bool _peersComeAndGo;
    private volatile bool _stopping;
    private int _goodbyes;

    internal LoadRun(FaultWorkload workload, HttpClient http, bool peersComeAndGo)
    {
        _workload = workload;
        _http = http;
        _peersComeAndGo = peersComeAndGo;
        _idle = new Queue<SimulatedPeer>(workload.Peers);
        _workers = [.. Enumerable.Range(0, FaultWorkload.Concurrency).Select(_ => Task.Run(WorkAsync))];
    }

    /// <summary>Peers that stopped with traffic and joined again during the load.</summary>
    public int Goodbyes => Volatile.Read(ref _goodbyes);

    /// <summary>Waits until the load has had <paramref name="announces"/> accepted in all, so a fault meets a loaded cluster.</summary>
    public Task WarmUpAsync(int announces) =>
        Eventually.TrueAsync(() => Task.FromResult(_workload.Service.Accepted >= announces || _workers.Any(w => w.IsFaulted)), $"{announces} announces accepted");

    /// <summary>Keeps the load running for <paramref name="duration"/>; throws at once if a peer gave up.</summary>
    public async Task RunForAsync(TimeSpan duration)
    {
        await Task.WhenAny(Task.Delay(duration), Task.WhenAny(_workers));
        if (_workers.FirstOrDefault(w => w.IsFaulted) is { } failed)
        {
            await failed;
        }
    }

    /// <summary>Lets every announce in flight finish (each until accepted), then ends the load.</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        await Task.WhenAll(_workers);
        _workload.Service.Mark("load stopped");
    }

    private async Task WorkAsync()
    {
        while (!_stopping)
        {
            SimulatedPeer peer;
            lock (_gate)
            {
                // More peers than workers, so one is always idle.
                peer = _idle.Dequeue();
            }

            try
            {
                if (_peersComeAndGo && Random.Shared.Next(ComeAndGoOneIn) == 0)
                {
                    await _workload.AnnounceUntilAcceptedAsync(_http, peer, peer.NextStopped());
                    await _workload.AnnounceUntilAcceptedAsync(_http, peer, peer.Started());
                    Interlocked.Increment(ref _goodbyes);
                }
                else
                {
                    await _workload.AnnounceUntilAcceptedAsync(_http, peer, peer.Next());
                }
            }
            finally
            {
                lock (_gate)
                {
                    _idle.Enqueue(peer);
                }
            }
        }
    }
}
