using System.Text;
using System.Text.RegularExpressions;
using Chihaya.Orleans.Gateway.Protocol;

namespace Chihaya.Orleans.Gateway.Tests.Protocol;

/// <summary>
/// Real requests from aria2, qBittorrent, python-libtorrent, rTorrent and Transmission must all parse.
/// The capture file holds them byte for byte, each request line with its headers, as the clients sent them
/// to a logging proxy in front of a tracker.
/// </summary>
public sealed partial class CapturedAnnouncesTests
{
    private static readonly string CaptureFile = Path.Combine(AppContext.BaseDirectory, "Protocol", "TestData", "captured-announces.txt");

    private static readonly string[] KnownClientPrefixes = ["A2-1-36-0-", "-qB4520-", "-LT2080-", "-lt0D80-", "-TR3000-"];

    public static TheoryData<int, string> Requests()
    {
        var data = new TheoryData<int, string>();
        var lines = File.ReadAllLines(CaptureFile).Where(line => line.StartsWith("GET ", StringComparison.Ordinal)).ToList();
        for (var i = 0; i < lines.Count; i++)
        {
            data.Add(i, lines[i]);
        }

        return data;
    }

    [Fact]
    public void CaptureFile_HoldsRequestsOfEveryClient()
    {
        var peerIds = Requests().Select(request => PeerId(Parse((string)request[1]))).ToList();

        Assert.All(KnownClientPrefixes, prefix => Assert.Contains(peerIds, peerId => peerId.StartsWith(prefix, StringComparison.Ordinal)));
    }

    [Theory]
    [MemberData(nameof(Requests))]
    public void Parse_CapturedRequest_Succeeds(int index, string requestLine)
    {
        var query = Query(requestLine);
        var declaredHashes = DeclaredHash().Matches(File.ReadAllText(CaptureFile)).Select(m => m.Groups[1].Value).ToHashSet();

        var ok = AnnounceQueryParser.TryParse(Encoding.ASCII.GetBytes(query), false, out var parsed, out var failure);

        Assert.True(ok, $"request {index}: {failure}");
        Assert.Contains(parsed.InfoHash.ToGrainKey(), declaredHashes);
        Assert.Contains(KnownClientPrefixes, prefix => PeerId(parsed).StartsWith(prefix, StringComparison.Ordinal));
        Assert.Equal(int.Parse(PortParameter().Match(query).Groups[1].Value), parsed.Port);
        Assert.Equal(long.Parse(LeftParameter().Match(query).Groups[1].Value), parsed.Left);
    }

    private static string Query(string requestLine)
    {
        var target = requestLine.Split(' ')[1];
        return target[(target.IndexOf('?') + 1)..];
    }

    private static AnnounceQuery Parse(string requestLine)
    {
        Assert.True(AnnounceQueryParser.TryParse(Encoding.ASCII.GetBytes(Query(requestLine)), false, out var parsed, out var failure), failure);
        return parsed;
    }

    private static string PeerId(AnnounceQuery parsed) => Encoding.Latin1.GetString(parsed.PeerId.Value.ToArray());

    [GeneratedRegex("info_hash hex ([0-9a-f]{40})")]
    private static partial Regex DeclaredHash();

    [GeneratedRegex("(?:^|&)port=([0-9]+)")]
    private static partial Regex PortParameter();

    [GeneratedRegex("(?:^|&)left=([0-9]+)")]
    private static partial Regex LeftParameter();
}
