using System.Collections;
using System.Collections.Immutable;
using System.Globalization;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Tests.Serialization;

/// <summary>
/// One value of every serialized type with every member set to something other than its default, so that a golden
/// written from it shows each member arriving (a member left at its default would pass even if it were lost).
/// </summary>
internal static class WireFixtures
{
    /// <summary>Bytes counting up from <paramref name="from"/>: recognisable in hex, and no two fixtures alike.</summary>
    public static byte[] Counting(int from, int length) => [.. Enumerable.Range(from, length).Select(value => (byte)value)];

    private static readonly DateTimeOffset At = new(2026, 11, 28, 9, 30, 15, 123, TimeSpan.Zero);

    private static readonly Bytes20 Twenty = Bytes20.Read(Counting(1, 20));
    private static readonly PeerId Peer = PeerId.Read(Counting(0x21, 20));
    private static readonly InfoHash Hash = InfoHash.Read(Counting(0x41, 20));
    private static readonly PeerEndpoint Endpoint = new(0x2001_0db8_0000_0001, 0x0000_0000_0000_0042, 6881);
    private static readonly UserKey User = UserKey.Read(Counting(0x61, 32));
    private static readonly Passkey Key = new("golden0123456789abcdef");
    private static readonly Multipliers Factors = new(1.5m, 0.25m);
    private static readonly Traffic Bytes = new(1_000_001, 2_000_002, 3_000_003, 4_000_004);
    private static readonly TorrentCounts Counts = new(true, 11, 12, 13);
    private static readonly TorrentProfile Torrent = new(42, TorrentStatus.Deleted, "Trumped by a better release.", Factors, 77,
        ImmutableDictionary<long, DateTimeOffset>.Empty.Add(9, At));
    private static readonly UserProfile Profile = new(9, Factors, true, At.AddDays(3));
    private static readonly StatusCheck Check = new(true, "PostgreSQL answers");
    private static readonly SwarmSize Size = new(31, 32);
    private static readonly SiloStatusReport Silo = new("S10.0.0.5:11111:123456789", At, 3, 41, 42, 43_000, 4.5, 44,
        ImmutableDictionary<string, StatusCheck>.Empty.Add("database", Check), ImmutableDictionary<string, SwarmSize>.Empty.Add(Hash.ToString(), Size));
    private static readonly GatewayStatusReport Gateway = new("gateway-host/4242", At, ImmutableDictionary<string, long>.Empty.Add("accepted", 51),
        ImmutableDictionary<string, long>.Empty.Add("unknown_passkey", 52));
    private static readonly StatusPoint Point = new(6.25, 0.5, 1.75, 61, 62, 63, 64_000, 6.5, 2, 3);

    public static IReadOnlyDictionary<Type, object> ByType { get; } = new object[]
    {
        Twenty,
        Peer,
        Hash,
        Endpoint,
        User,
        Key,
        Factors,
        Bytes,
        Counts,
        Torrent,
        Profile,
        new UserView(Key, Profile, Bytes),
        new TorrentView(Hash, Torrent, Bytes, Counts),
        new AnnounceCommand(Peer, Endpoint, 100_000, 200_000, 300_000, AnnounceEvent.Completed, 50, true, User, 1_764_322_215_123_456),
        Check,
        Size,
        Silo,
        Gateway,
        Point,
        new ClusterStatus(At, TimeSpan.FromSeconds(5), ImmutableDictionary<long, StatusPoint>.Empty.Add(1_764_322_215_123, Point),
            ImmutableDictionary<string, SiloStatusReport>.Empty.Add(Silo.Silo, Silo), ImmutableDictionary<string, GatewayStatusReport>.Empty.Add(Gateway.Gateway, Gateway)),
        new AnnounceResult(AnnounceStatus.TooOld, "Come back later.", 21, 22, 23, Counting(0x81, 6), Counting(0x91, 18), Counting(0xA1, 20), Counting(0xC1, 20)),
        new SiteConflictException("the passkey belongs to another user than id 9: change or remove that user's passkey first"),
        new SiteUnavailableException("the site did not answer the user's read within 3 s"),
    }.ToDictionary(value => value.GetType());
}

/// <summary>A value's members as text, by path ("Profile.Multipliers.Upload"), down to the leaves the wire carries.</summary>
internal static class MemberValues
{
    /// <summary>One leaf: its text, and whether it is the default its type starts with (what a missing member reads as).</summary>
    internal readonly record struct Leaf(string Text, bool IsDefault);

    public static SortedDictionary<string, Leaf> Flatten(object value)
    {
        var leaves = new SortedDictionary<string, Leaf>(StringComparer.Ordinal);
        Add("", value, leaves);
        return leaves;
    }

    private static void Add(string path, object? value, SortedDictionary<string, Leaf> leaves)
    {
        var type = value?.GetType();
        if (value is null || type is null)
        {
            leaves[path] = new("null", true);
        }
        else if (type.IsDefined(typeof(GenerateSerializerAttribute), inherit: false))
        {
            foreach (var member in WireTypes.Members(type))
            {
                Add(path.Length == 0 ? member.Name : path + "." + member.Name, member.ValueOf(value), leaves);
            }
        }
        else if (value is byte[] bytes)
        {
            leaves[path] = new(Convert.ToHexStringLower(bytes), bytes.Length == 0);
        }
        else if (value is IDictionary dictionary)
        {
            leaves[path + ".Count"] = new(dictionary.Count.ToString(CultureInfo.InvariantCulture), dictionary.Count == 0);
            foreach (DictionaryEntry entry in dictionary)
            {
                Add($"{path}[{Text(entry.Key)}]", entry.Value, leaves);
            }
        }
        else
        {
            // Enums as their numbers: the number is what travels, so the check does not depend on the names.
            var leaf = type.IsEnum ? Convert.ToInt64(value, CultureInfo.InvariantCulture) : value;
            leaves[path] = new(Text(leaf), value is string text ? text.Length == 0 : value.Equals(Activator.CreateInstance(type)));
        }
    }

    private static string Text(object value) => value switch
    {
        string text => "\"" + text + "\"",
        DateTimeOffset time => time.ToString("O", CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
