using BenchmarkDotNet.Attributes;
using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;
using Chihaya.Orleans.Grains.Torrents;

namespace Chihaya.Orleans.Microbenchmarks;

/// <summary>
/// The accounting of one accepted announce, in the order the torrent grain runs it: the user's and the torrent's
/// multipliers combined (<see cref="TorrentProfile.For"/>), the traffic since the peer's last announce credited
/// (<see cref="TrafficCredit.Between"/>, inside <see cref="Swarm.Announce"/>), and the outcome added to the swarm's
/// ledger (<see cref="SwarmLedger.Record"/>).
/// </summary>
[MemoryDiagnoser]
public class DeltaAccountingBenchmarks
{
    // Users who announced on the torrent since the last cut: a large swarm's flush interval.
    private const int UsersInLedger = 1_000;

    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(FilledSwarm.Now);

    private readonly SwarmLedger _ledger = new();

    // Fields, not constants, so the JIT cannot fold the arithmetic away. The totals are a regular announce's: the
    // previous ones stored in the swarm, the new ones 2 MiB up and 6 MiB down later.
    private readonly long _previousUploaded = 48_234_496;
    private readonly long _previousDownloaded = 117_440_512;
    private readonly long _uploaded = 50_331_648;
    private readonly long _downloaded = 123_731_968;
    private readonly Multipliers _neutral = Multipliers.Neutral;

    // A user with an upload bonus on a torrent at half download (the decimal arithmetic; neutral factors skip it).
    private readonly Multipliers _userBonus = new(1.1m, 1m);
    private readonly TorrentProfile _halfLeech = new(FilledSwarm.TorrentId, TorrentStatus.Active, null, new Multipliers(1m, 0.5m), Snatches: 0);
    private Multipliers _combined;
    private AnnounceCredit _credit;
    private long _round;

    [GlobalSetup]
    public void Setup()
    {
        _combined = _halfLeech.For(1, _userBonus, Now);
        _credit = new AnnounceCredit(TrafficCredit.Between(_previousUploaded, _previousDownloaded, _uploaded, _downloaded, _combined), Snatched: false);
        for (var user = 1; user <= UsersInLedger; user++)
        {
            _ledger.Record(user, _credit, Now);
        }
    }

    [Benchmark]
    public Multipliers CombineMultipliers() => _halfLeech.For(1, _userBonus, Now);

    /// <summary>Both factors 1: the common case, which never touches <see cref="decimal"/>.</summary>
    [Benchmark(Baseline = true)]
    public Traffic CreditNeutral() => TrafficCredit.Between(_previousUploaded, _previousDownloaded, _uploaded, _downloaded, _neutral);

    /// <summary>Upload × 1.1, download × 0.5: both directions through <see cref="decimal"/>.</summary>
    [Benchmark]
    public Traffic CreditWithMultipliers() => TrafficCredit.Between(_previousUploaded, _previousDownloaded, _uploaded, _downloaded, _combined);

    /// <summary>A user already in the ledger (the usual case between two cuts); its entries are summed in place.</summary>
    [Benchmark]
    public bool RecordInLedger()
    {
        var user = (++_round % UsersInLedger) + 1;
        _ledger.Record(user, _credit, Now);
        return _ledger.IsEmpty;
    }
}
