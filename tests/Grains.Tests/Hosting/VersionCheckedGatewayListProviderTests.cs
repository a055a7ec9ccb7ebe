using System.Net;
using Chihaya.Orleans.Grains.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orleans.Clustering.Redis;
using Orleans.Configuration;

namespace Chihaya.Orleans.Grains.Tests.Hosting;

public sealed class VersionCheckedGatewayListProviderTests
{
    private readonly ScriptedMembershipTable _table = new();
    private readonly FakeTimeProvider _time = new();
    private readonly VersionCheckedGatewayListProvider _gateways;

    public VersionCheckedGatewayListProviderTests() =>
        _gateways = new VersionCheckedGatewayListProvider(_table, Options.Create(new GatewayOptions()), _time);

    [Fact]
    public async Task GetGateways_ActiveSilosWithAGatewayPort_ListedAtThatPort_AndTheTableIsNeverCreated()
    {
        _table.Next(Table(4, (1, SiloStatus.Active, 30001), (2, SiloStatus.Joining, 30002), (3, SiloStatus.Active, 0), (4, SiloStatus.Dead, 30004)));

        var gateways = await _gateways.GetGatewaysAsync();

        Assert.Equal([SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 30001), 1).ToGatewayUri()], gateways);
        Assert.Equal([false], _table.Initialized);
    }

    [Fact]
    public async Task GetGateways_TableOlderThanOneRead_RefusedForAMinuteThenFollowed()
    {
        _table.Next(Table(7, (1, SiloStatus.Active, 30001), (2, SiloStatus.Active, 30002)));
        Assert.Equal(2, (await _gateways.GetGatewaysAsync()).Count);

        // Redis lost the table and one silo began it again alone: the client keeps both gateways meanwhile.
        _table.Next(Table(1, (3, SiloStatus.Active, 30003)));
        await Assert.ThrowsAsync<RedisClusteringException>(() => _gateways.GetGatewaysAsync());
        _time.Advance(VersionCheckedGatewayListProvider.TrustOlderTableAfter - TimeSpan.FromSeconds(1));
        _table.Next(Table(2, (3, SiloStatus.Active, 30003)));
        await Assert.ThrowsAsync<RedisClusteringException>(() => _gateways.GetGatewaysAsync());

        // Nobody restored it: a cluster begun anew, to follow.
        _time.Advance(TimeSpan.FromSeconds(1));
        _table.Next(Table(2, (3, SiloStatus.Active, 30003)));
        Assert.Equal(30003, Assert.Single(await _gateways.GetGatewaysAsync()).Port);
    }

    [Fact]
    public async Task GetGateways_TableMissing_NoGatewaysBeforeAnyRead_ThenARefusal()
    {
        _table.Next(new RedisClusteringException("The Redis membership table version is missing."));
        Assert.Empty(await _gateways.GetGatewaysAsync());
        _table.Next(Table(3, (1, SiloStatus.Active, 30001)));
        Assert.Single(await _gateways.GetGatewaysAsync());

        _table.Next(new RedisClusteringException("The Redis membership table version is missing."));
        await Assert.ThrowsAsync<RedisClusteringException>(() => _gateways.GetGatewaysAsync());
    }

    private static MembershipTableData Table(int version, params (int Silo, SiloStatus Status, int ProxyPort)[] silos) =>
        new([.. silos.Select(silo => Tuple.Create(
                new MembershipEntry
                {
                    SiloAddress = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11000 + silo.Silo), silo.Silo),
                    Status = silo.Status,
                    ProxyPort = silo.ProxyPort,
                    SiloName = $"silo{silo.Silo}",
                },
                version.ToString(System.Globalization.CultureInfo.InvariantCulture)))],
            new TableVersion(version, version.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>A membership table whose reads return what the test set next; a client only reads.</summary>
    private sealed class ScriptedMembershipTable : IMembershipTable
    {
        private object? _next;

        public List<bool> Initialized { get; } = [];

        public void Next(object tableOrFailure) => _next = tableOrFailure;

        public Task InitializeMembershipTable(bool tryInitTableVersion)
        {
            Initialized.Add(tryInitTableVersion);
            return Task.CompletedTask;
        }

        public Task<MembershipTableData> ReadAll() => _next switch
        {
            MembershipTableData table => Task.FromResult(table),
            Exception failure => Task.FromException<MembershipTableData>(failure),
            _ => throw new InvalidOperationException("the test set no read"),
        };

        public Task DeleteMembershipTableEntries(string clusterId) => throw new NotSupportedException();

        public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => throw new NotSupportedException();

        public Task<MembershipTableData> ReadRow(SiloAddress key) => throw new NotSupportedException();

        public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => throw new NotSupportedException();

        public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => throw new NotSupportedException();

        public Task UpdateIAmAlive(MembershipEntry entry) => throw new NotSupportedException();
    }
}
