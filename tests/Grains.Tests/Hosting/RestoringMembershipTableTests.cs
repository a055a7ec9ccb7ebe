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

            await redis.GetDatabase().KeyDeleteAsync(key);
            SiloTable? newcomer = null;
            if (loss == Loss.BegunAgainAtZero)
            {
                await redis.GetDatabase().HashSetAsync(key, "Version", "0", When.NotExists);
            }
            else if (loss == Loss.JoinedByNewSilo)
            {
                newcomer = await SiloTable.StartAsync(clusterId, 100 + round);
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

            var expected = new[] { first.Entry.SiloAddress, second.Entry.SiloAddress }.Concat(newcomer is null ? [] : [newcomer.Entry.SiloAddress]).ToHashSet();
            foreach (var table in reads.Append(await first.Table.ReadAllAsync()))
            {
                Assert.True(table.Version.Version >= before.Version.Version, $"round {round}: version {table.Version} after the loss, {before.Version} before");
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
        public async Task WriteStatusAsync(SiloStatus status)
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
                SuspectTimes = [],
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
