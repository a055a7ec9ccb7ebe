using System.Net;
using Chihaya.Orleans.Grains.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Chihaya.Orleans.Grains.Tests.Hosting;

/// <summary>
/// Silos' membership tables as UseTrackerSilo registers them (Orleans' Redis table inside ours), on the test Redis
/// under a cluster id of the test's own: Redis loses the table, and the silos put it back at the same time.
/// </summary>
public sealed class RestoringMembershipTableTests
{
    public enum Loss
    {
        /// <summary>Redis restarted empty.</summary>
        Emptied,

        /// <summary>Emptied, then a silo or client starting wrote Version 0, as Orleans does on an empty table.</summary>
        BegunAgainAtZero,

        /// <summary>Emptied, then a new silo joined the empty table alone (its row at Version 1).</summary>
        JoinedByNewSilo,
    }

    private static readonly string Redis = Environment.GetEnvironmentVariable("CHIHAYA_TEST_REDIS")
        ?? throw new InvalidOperationException("CHIHAYA_TEST_REDIS is not set: run the tests with ./test.sh.");

    [Theory]
    [InlineData(Loss.Emptied)]
    [InlineData(Loss.BegunAgainAtZero)]
    [InlineData(Loss.JoinedByNewSilo)]
    public async Task TableLost_SilosRestoringAtOnce_PutBackEveryRowAtAVersionNoLower(Loss loss)
    {
        var clusterId = "restore-" + Guid.NewGuid().ToString("N")[..12];
        await using var redis = await ConnectionMultiplexer.ConnectAsync(Redis);
        var key = $"chihaya/members/{clusterId}";
        await using var first = await SiloTable.StartAsync(clusterId, 1);
        await using var second = await SiloTable.StartAsync(clusterId, 2);
        // Repeated, because what matters is how the two restores interleave.
        for (var round = 0; round < 10; round++)
        {
            await first.WriteStatusAsync(SiloStatus.Active);
            await second.WriteStatusAsync(SiloStatus.Active);
            var before = await first.Table.ReadAllAsync();
            await second.Table.ReadAllAsync();

            await using var watcher = TableWatcher.Start(redis, key, before.Version.Version, [first.Entry.SiloAddress, second.Entry.SiloAddress]);
            await redis.GetDatabase().KeyDeleteAsync(key);
            SiloTable? newcomer = null;
            if (loss == Loss.BegunAgainAtZero)
            {
                await redis.GetDatabase().HashSetAsync(key, "Version", "0", When.NotExists);
            }
            else if (loss == Loss.JoinedByNewSilo)
            {
                // As Orleans joins: Joining, then Active.
                newcomer = await SiloTable.StartAsync(clusterId, 100 + round);
                await newcomer.WriteStatusAsync(SiloStatus.Joining);
                await newcomer.WriteStatusAsync(SiloStatus.Active);
            }

            // Both notice at once, one by its heartbeat (its row is gone) and one by reading.
            var reads = await Task.WhenAll(
                first.Table.ReadAllAsync(),
                second.Table.ReadAllAsync(),
                Task.Run(async () =>
                {
                    await first.Table.UpdateIAmAliveAsync(first.Entry);
                    return await first.Table.ReadAllAsync();
                }));

            Assert.Empty(await watcher.StopAsync());
            var expected = new[] { first.Entry.SiloAddress, second.Entry.SiloAddress }.Concat(newcomer is null ? [] : [newcomer.Entry.SiloAddress]).ToHashSet();
            foreach (var table in reads.Append(await first.Table.ReadAllAsync()))
            {
                // Newer than the silos' view when it holds a silo they do not know yet, so that they take it in.
                Assert.True(newcomer is null ? table.Version.Version >= before.Version.Version : table.Version.Version > before.Version.Version, $"round {round}: version {table.Version} after the loss, {before.Version} before");
                Assert.Equal(expected, table.Members.Select(row => row.Item1.SiloAddress).ToHashSet());
                Assert.All(table.Members, row => Assert.Equal(SiloStatus.Active, row.Item1.Status));
            }

            if (newcomer is not null)
            {
                // Out of the way of the next round as Orleans takes a silo out: dead, seen dead, and its row cleaned up.
                await newcomer.WriteStatusAsync(SiloStatus.Dead);
                await first.Table.ReadAllAsync();
                await second.Table.ReadAllAsync();
                await redis.GetDatabase().HashDeleteAsync(key, newcomer.Entry.SiloAddress.ToString());
                await newcomer.DisposeAsync();
            }
        }

        await redis.GetDatabase().KeyDeleteAsync(key);
    }

    // Silos restore what they knew, and one may have known less: the table must end as the newest knowledge has it.
    [Fact]
    public async Task TableLost_ASiloThatKnewLessRestoresFirst_TheSiloThatKnewMoreBringsEveryRowUpToDate()
    {
        var clusterId = "restore-" + Guid.NewGuid().ToString("N")[..12];
        await using var redis = await ConnectionMultiplexer.ConnectAsync(Redis);
        var key = $"chihaya/members/{clusterId}";
        await using var first = await SiloTable.StartAsync(clusterId, 1);
        await using var second = await SiloTable.StartAsync(clusterId, 2);
        await using var third = await SiloTable.StartAsync(clusterId, 3);
        await first.WriteStatusAsync(SiloStatus.Active);
        await second.WriteStatusAsync(SiloStatus.Active);
        await third.WriteStatusAsync(SiloStatus.Joining);
        // The first last read the third joining; the second read it active, at a newer version.
        await first.Table.ReadAllAsync();
        await third.WriteStatusAsync(SiloStatus.Active);
        var newest = await second.Table.ReadAllAsync();

        await redis.GetDatabase().KeyDeleteAsync(key);
        await first.Table.ReadAllAsync();
        var restored = await second.Table.ReadAllAsync();

        Assert.True(restored.Version.Version >= newest.Version.Version, $"version {restored.Version} after the loss, {newest.Version} before");
        Assert.Equal(
            newest.Members.Select(row => (row.Item1.SiloAddress, row.Item1.Status)).OrderBy(row => row.SiloAddress.ToParsableString()),
            restored.Members.Select(row => (row.Item1.SiloAddress, row.Item1.Status)).OrderBy(row => row.SiloAddress.ToParsableString()));
        await redis.GetDatabase().KeyDeleteAsync(key);
    }

    [Fact]
    public async Task TableLost_RowsWrittenBack_ReadByOrleansAsTheyWere_AndTheHeartbeatStillUpdatesThem()
    {
        var clusterId = "restore-" + Guid.NewGuid().ToString("N")[..12];
        await using var redis = await ConnectionMultiplexer.ConnectAsync(Redis);
        var key = $"chihaya/members/{clusterId}";
        await using var first = await SiloTable.StartAsync(clusterId, 1);
        await using var second = await SiloTable.StartAsync(clusterId, 2);
        await first.WriteStatusAsync(SiloStatus.Active);
        await second.WriteStatusAsync(SiloStatus.Active, suspectedBy: first.Entry.SiloAddress);
        var before = await first.Table.ReadAllAsync();

        await redis.GetDatabase().KeyDeleteAsync(key);
        await first.Table.ReadAllAsync();

        // Read through the second silo's table, which is Orleans' own underneath.
        var restored = await second.Table.ReadAllAsync();
        Assert.Equal(before.Version.Version, restored.Version.Version);
        Assert.Equal(before.Members.Select(row => Described(row.Item1)).Order(), restored.Members.Select(row => Described(row.Item1)).Order());
        var alive = second.Entry.IAmAliveTime.AddSeconds(10);
        second.Entry.IAmAliveTime = alive;
        await second.Table.UpdateIAmAliveAsync(second.Entry);
        Assert.Equal(alive, (await first.Table.ReadAllAsync()).TryGet(second.Entry.SiloAddress)!.Item1.IAmAliveTime);
        await redis.GetDatabase().KeyDeleteAsync(key);
    }

    private static string Described(MembershipEntry entry) =>
        FormattableString.Invariant($"{entry.SiloAddress.ToParsableString()} {entry.Status} {entry.ProxyPort} {entry.HostName} {entry.SiloName} {entry.RoleName} {entry.UpdateZone} {entry.FaultZone} {entry.StartTime:O} {entry.IAmAliveTime:O} {entry.StartTime.Kind} {string.Join(",", (entry.SuspectTimes ?? []).Select(suspect => $"{suspect.Item1.ToParsableString()}@{suspect.Item2:O}"))}");

    /// <summary>
    /// Reads the table's hash from Redis as fast as it can while silos restore it, as a client's gateway list or a silo's
    /// view could at any moment, and keeps every table above <c>newest</c> (what readers had before the loss; they take
    /// only a newer table) that lacks one of the running silos.
    /// </summary>
    private sealed class TableWatcher : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<List<string>> _watching;

        private TableWatcher(IConnectionMultiplexer redis, string key, int newest, SiloAddress[] running) =>
            _watching = Task.Run(async () =>
            {
                var wrong = new List<string>();
                while (!_stop.IsCancellationRequested)
                {
                    var fields = (await redis.GetDatabase().HashGetAllAsync(key)).ToDictionary(field => field.Name.ToString(), field => field.Value);
                    if (fields.TryGetValue("Version", out var version) && (int)version > newest
                        && running.FirstOrDefault(silo => !fields.ContainsKey(silo.ToString())) is { } missing)
                    {
                        wrong.Add($"version {version} without {missing} (rows: {string.Join(", ", fields.Keys)})");
                    }
                }

                return wrong;
            });

        public static TableWatcher Start(IConnectionMultiplexer redis, string key, int newest, SiloAddress[] running) => new(redis, key, newest, running);

        /// <summary>The wrong tables seen.</summary>
        public async Task<List<string>> StopAsync()
        {
            await _stop.CancelAsync();
            return await _watching;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _watching;
            _stop.Dispose();
        }
    }

    /// <summary>One silo's membership table and its own row, registered as the tracker's silos register theirs.</summary>
    private sealed class SiloTable : IAsyncDisposable
    {
        private readonly ServiceProvider _services;

        private SiloTable(ServiceProvider services, MembershipEntry entry)
        {
            _services = services;
            Table = services.GetRequiredService<IMembershipTable>();
            Entry = entry;
        }

        public IMembershipTable Table { get; }

        public MembershipEntry Entry { get; private set; }

        public static async Task<SiloTable> StartAsync(string clusterId, int silo)
        {
            var services = new ServiceCollection();
            services.AddLogging();
            services.Configure<ClusterOptions>(options =>
            {
                options.ClusterId = clusterId;
                options.ServiceId = "chihaya";
            });
            new ServicesOnlySiloBuilder(services).UseRedisClustering(Redis);
            TrackerSiloHosting.RestoreLostMembership(services);
            var now = DateTime.UtcNow;
            var table = new SiloTable(services.BuildServiceProvider(), new MembershipEntry
            {
                SiloAddress = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11000 + silo), silo),
                SiloName = $"silo{silo}",
                HostName = "localhost",
                Status = SiloStatus.Joining,
                ProxyPort = 30000 + silo,
                RoleName = "test",
                SuspectTimes = [],
                StartTime = now,
                IAmAliveTime = now,
            });
            await table.Table.InitializeMembershipTableAsync(tryInitTableVersion: true);
            return table;
        }

        /// <summary>Writes this silo's row with <paramref name="status"/> as Orleans does: read, then a conditional write at the next version.</summary>
        public async Task WriteStatusAsync(SiloStatus status, SiloAddress? suspectedBy = null)
        {
            var table = await Table.ReadAllAsync();
            Entry = new MembershipEntry
            {
                SiloAddress = Entry.SiloAddress,
                SiloName = Entry.SiloName,
                HostName = Entry.HostName,
                Status = status,
                ProxyPort = Entry.ProxyPort,
                RoleName = Entry.RoleName,
                UpdateZone = 3,
                FaultZone = 5,
                SuspectTimes = suspectedBy is null ? [] : [Tuple.Create(suspectedBy, DateTime.UtcNow)],
                StartTime = Entry.StartTime,
                IAmAliveTime = DateTime.UtcNow,
            };
            var written = table.TryGet(Entry.SiloAddress) is { } row
                ? await Table.UpdateRowAsync(Entry, row.Item2, table.Version.Next())
                : await Table.InsertRowAsync(Entry, table.Version.Next());
            Assert.True(written, $"{Entry.SiloAddress} could not write its row over {table}");
        }

        public ValueTask DisposeAsync() => _services.DisposeAsync();
    }

    /// <summary>Enough of a silo builder for Orleans' UseRedisClustering, which only adds services.</summary>
    private sealed class ServicesOnlySiloBuilder(IServiceCollection services) : ISiloBuilder
    {
        public IServiceCollection Services { get; } = services;

        public IConfiguration Configuration { get; } = new ConfigurationBuilder().Build();
    }
}
