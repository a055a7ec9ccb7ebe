using Chihaya.Orleans.TestSupport;
using Npgsql;

namespace Chihaya.Orleans.Integration.Tests.Faults;

/// <summary>One table's byte columns against the model: bytes missing, bytes counted twice, rows that differ.</summary>
public sealed class TableVerdict(string table, bool bytes = true)
{
    private const int Examples = 5;

    public string Table { get; } = table;

    /// <summary>Per column (<see cref="ByteSums.Columns"/>): model − database, where the database holds less.</summary>
    public long[] Missing { get; } = new long[4];

    /// <summary>Per column: database − model, where the database holds more.</summary>
    public long[] Double { get; } = new long[4];

    public int WrongRows { get; private set; }

    public List<string> FirstWrongRows { get; } = [];

    public long MissingRaw => Missing[0] + Missing[1];

    public long DoubleRaw => Double[0] + Double[1];

    public long MissingCredit => Missing[2] + Missing[3];

    public long DoubleCredit => Double[2] + Double[3];

    internal void Compare(string row, ByteSums? expected, long[] actual)
    {
        var model = expected?.Values ?? new long[4];
        for (var c = 0; c < 4; c++)
        {
            Missing[c] += Math.Max(0, model[c] - actual[c]);
            Double[c] += Math.Max(0, actual[c] - model[c]);
        }

        if (!model.SequenceEqual(actual))
        {
            Wrong($"{row}: model [{string.Join(", ", model)}], database [{string.Join(", ", actual)}] (database − model: [{string.Join(", ", actual.Zip(model, (a, m) => a - m))}])");
        }
    }

    internal void Wrong(string description)
    {
        WrongRows++;
        if (FirstWrongRows.Count < Examples)
        {
            FirstWrongRows.Add(description);
        }
    }

    public override string ToString() => bytes
        ? $"{Table}: missing {string.Join("/", Missing)}, double {string.Join("/", Double)} ({string.Join("/", ByteSums.Columns)}); {WrongRows} rows wrong"
        : $"{Table}: {WrongRows} rows wrong";
}

/// <summary>
/// The site's tables (<c>users</c>, <c>torrents</c>, <c>user_torrents</c>) held against the <see cref="AccountingModel"/>,
/// every row of each, including rows the model has no traffic for, which must hold nothing.
/// </summary>
public sealed class SiteVerdict
{
    private SiteVerdict()
    {
    }

    public TableVerdict Users { get; } = new("users");

    public TableVerdict Torrents { get; } = new("torrents");

    public TableVerdict History { get; } = new("user_torrents");

    /// <summary>Torrents whose snatch count differs, and the snatches the database lacks (a count too high is a wrong row as well).</summary>
    public TableVerdict Snatches { get; } = new("torrents.snatches", bytes: false);

    public long SnatchesMissing { get; private set; }

    /// <summary>Torrents that still report seeders or leechers although every peer has stopped.</summary>
    public TableVerdict Swarms { get; } = new("torrents.seeders/leechers", bytes: false);

    /// <summary>History rows missing, left over, or with <c>completed_at</c> or <c>last_announce_at</c> other than the model says.</summary>
    public TableVerdict HistoryRows { get; } = new("user_torrents rows", bytes: false);

    public TableVerdict Seeding { get; } = new("user_torrents.seeding_seconds", bytes: false);

    /// <summary>Seconds below the model's least (lost) and above its most (counted twice), summed over rows.</summary>
    public long SeedingMissingSeconds { get; private set; }

    public long SeedingDoubleSeconds { get; private set; }

    // Rows with less seeding time than the model's least: how much less, and when their completion was answered.
    private readonly List<SeedingShortRow> _seedingShort = [];

    /// <summary>True when nothing the model expects is absent: the tracker has written everything, or never will.</summary>
    public bool NothingMissing =>
        Users.Missing.Sum() + Torrents.Missing.Sum() + History.Missing.Sum() + SnatchesMissing == 0
        && HistoryRows.WrongRows == 0 && Swarms.WrongRows == 0;

    public static async Task<SiteVerdict> JudgeAsync(PostgresTestDatabase db, AccountingModel model)
    {
        var verdict = new SiteVerdict();
        await ReadRowsAsync(db, "select id, raw_uploaded, raw_downloaded, credited_uploaded, credited_downloaded from users", users =>
        {
            var id = users.GetInt64(0);
            verdict.Users.Compare($"user {id}", model.Users.GetValueOrDefault(id), [users.GetInt64(1), users.GetInt64(2), users.GetInt64(3), users.GetInt64(4)]);
        });

        // Rows name torrents by info hash too, as the tracker's logs do.
        var names = new Dictionary<long, string>();
        await ReadRowsAsync(
            db,
            "select id, raw_uploaded, raw_downloaded, credited_uploaded, credited_downloaded, snatches, seeders, leechers, encode(info_hash, 'hex') from torrents",
            torrents =>
            {
                var id = torrents.GetInt64(0);
                var name = names[id] = $"torrent {id} ({torrents.GetString(8)})";
                var expected = model.Torrents.GetValueOrDefault(id) ?? new TorrentExpectation();
                verdict.Torrents.Compare(name, expected.Bytes, [torrents.GetInt64(1), torrents.GetInt64(2), torrents.GetInt64(3), torrents.GetInt64(4)]);
                var snatches = torrents.GetInt64(5);
                verdict.SnatchesMissing += Math.Max(0, expected.Snatches - snatches);
                if (snatches != expected.Snatches)
                {
                    verdict.Snatches.Wrong($"{name}: model {expected.Snatches} snatches, database {snatches}");
                }

                var (seeders, leechers) = (torrents.GetInt32(6), torrents.GetInt32(7));
                if (seeders != 0 || leechers != 0)
                {
                    verdict.Swarms.Wrong($"{name}: {seeders} seeders and {leechers} leechers after every peer stopped");
                }
            });

        var seen = new HashSet<(long User, long Torrent)>();
        await ReadRowsAsync(
            db,
            """
            select user_id, torrent_id, raw_uploaded, raw_downloaded, credited_uploaded, credited_downloaded, seeding_seconds,
                   completed_at is not null, last_announce_at is not null
            from user_torrents
            """,
            history =>
            {
                var key = (history.GetInt64(0), history.GetInt64(1));
                seen.Add(key);
                var row = $"user {key.Item1} on {names.GetValueOrDefault(key.Item2, $"torrent {key.Item2}")}";
                var expected = model.History.GetValueOrDefault(key);
                verdict.History.Compare(row, expected?.Bytes, [history.GetInt64(2), history.GetInt64(3), history.GetInt64(4), history.GetInt64(5)]);
                var (completed, announced) = (history.GetBoolean(7), history.GetBoolean(8));
                if (expected is null || completed != expected.Completed || !announced)
                {
                    verdict.HistoryRows.Wrong($"{row}: model {(expected is null ? "no row" : $"completed {expected.Completed}")}, database completed {completed}, last announce {(announced ? "set" : "empty")}");
                }

                verdict.JudgeSeeding(row, expected, history.GetInt64(6));
            });

        foreach (var (key, expected) in model.History.Where(entry => !seen.Contains(entry.Key)))
        {
            var row = $"user {key.User} on {names.GetValueOrDefault(key.Torrent, $"torrent {key.Torrent}")}";
            verdict.HistoryRows.Wrong($"{row}: model has a row, database none");
            verdict.History.Compare(row, expected.Bytes, new long[4]);
        }

        return verdict;
    }

    private static async Task ReadRowsAsync(PostgresTestDatabase db, string sql, Action<NpgsqlDataReader> row)
    {
        await using var command = db.DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            row(reader);
        }
    }

    private void JudgeSeeding(string row, HistoryExpectation? expected, long seconds)
    {
        var (least, most) = (expected?.SeedingAtLeast ?? 0, expected?.SeedingAtMost ?? 0);
        if (seconds < least)
        {
            _seedingShort.Add(new SeedingShortRow(row, least - seconds, expected?.CompletionAnswered));
        }

        if (seconds < least || seconds > most)
        {
            SeedingMissingSeconds += Math.Max(0, least - seconds);
            SeedingDoubleSeconds += Math.Max(0, seconds - most);
            Seeding.Wrong($"{row}: model {least}..{most} seeding seconds, database {seconds}");
        }
    }

    private sealed record SeedingShortRow(string Row, long Seconds, DateTimeOffset? CompletionAnswered);

    /// <summary>The figures of the tables, for one line.</summary>
    public string Figures =>
        $"missing-bytes={Users.MissingRaw} double-bytes={Users.DoubleRaw} missing-credit={Users.MissingCredit} double-credit={Users.DoubleCredit} " +
        $"users-wrong={Users.WrongRows} torrents-wrong={Torrents.WrongRows} history-wrong={History.WrongRows + HistoryRows.WrongRows} " +
        $"snatches-wrong={Snatches.WrongRows} swarms-left={Swarms.WrongRows} seeding-missing-s={SeedingMissingSeconds} seeding-double-s={SeedingDoubleSeconds}";

    /// <summary>Each table's columns and its first wrong rows.</summary>
    public IEnumerable<string> Details()
    {
        foreach (var table in new[] { Users, Torrents, History, Snatches, Swarms, HistoryRows, Seeding })
        {
            yield return table.ToString();
            foreach (var row in table.FirstWrongRows)
            {
                yield return "    " + row;
            }
        }
    }

    /// <summary>
    /// How long a crash's forgetting reaches back: a swarm forgets what it accepted since its last applied flush, the
    /// test cluster's flush interval (200 ms) plus the time its write takes under the suite's load. Generous, so that
    /// a slow machine's flush does not fail the run, yet short against the minutes a run's completions spread over.
    /// </summary>
    public static readonly TimeSpan CrashForgetsBack = TimeSpan.FromSeconds(5);

    // A reply the silo sent just before it died may reach the client a moment after the crash's instant was taken.
    private static readonly TimeSpan ReplyInFlight = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The rows short of seeding time, each with when its completion was answered relative to the crash: what a
    /// passing crash scenario reports, to show its margins.
    /// </summary>
    public IEnumerable<string> SeedingShortRows(DateTimeOffset? crashedAt) => _seedingShort.Select(shortRow => Describe(shortRow, crashedAt));

    private static string Describe(SeedingShortRow shortRow, DateTimeOffset? crashedAt) =>
        $"{shortRow.Row}: {shortRow.Seconds} s of seeding missing; completion " +
        (shortRow.CompletionAnswered is not { } answered ? "never accepted"
            : crashedAt is { } crash ? $"answered {(answered - crash).TotalSeconds:+0.00;-0.00} s from the crash"
            : $"answered at {answered:HH:mm:ss.fff}");

    /// <summary>
    /// What breaks the accounting rules. Seeding time may be short only after a crash (<paramref name="crashedAt"/>,
    /// a silo killed or frozen), and only on rows whose completion the crash can have forgotten: one answered within
    /// <see cref="CrashForgetsBack"/> before it.
    /// </summary>
    public List<string> Problems(DateTimeOffset? crashedAt)
    {
        var problems = new List<string>();
        foreach (var table in new[] { Users, Torrents, History })
        {
            if (table.Double.Any(bytes => bytes > 0))
            {
                problems.Add($"{table.Table}: bytes counted twice ({string.Join("/", table.Double)})");
            }

            if (table.Missing.Any(bytes => bytes > 0))
            {
                problems.Add($"{table.Table}: bytes missing ({string.Join("/", table.Missing)})");
            }

            if (table.WrongRows > 0)
            {
                problems.Add($"{table.Table}: {table.WrongRows} rows differ from the model");
            }
        }

        foreach (var table in new[] { Snatches, Swarms, HistoryRows })
        {
            if (table.WrongRows > 0)
            {
                problems.Add($"{table.Table}: {table.WrongRows} wrong");
            }
        }

        if (SeedingDoubleSeconds > 0)
        {
            problems.Add($"seeding time counted twice: {SeedingDoubleSeconds} s over the model's most");
        }

        // Seeder intervals add up whatever announces were lost in between, so only a forgotten completion (the peer
        // still a leecher to the tracker at its next announce) can make seeding time come out short.
        var unexplained = _seedingShort.Where(shortRow => crashedAt is not { } crash
            || shortRow.CompletionAnswered is not { } answered
            || answered < crash - CrashForgetsBack
            || answered > crash + ReplyInFlight).ToList();
        if (unexplained.Count > 0)
        {
            problems.Add(
                $"seeding time missing on {unexplained.Count} rows ({unexplained.Sum(shortRow => shortRow.Seconds)} s) that no crash can have forgotten the completion of: " +
                string.Join("; ", unexplained.Take(5).Select(shortRow => Describe(shortRow, crashedAt))));
        }

        return problems;
    }
}
