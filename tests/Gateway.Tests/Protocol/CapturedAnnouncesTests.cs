using System.Text;
using System.Text.RegularExpressions;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Gateway.Tests.Protocol;

/// <summary>Real requests from aria2, qBittorrent, python-libtorrent, rTorrent and Transmission must all parse.</summary>
public sealed partial class CapturedAnnouncesTests
{
    private static readonly string CaptureFile = Path.Combine(RepositoryPaths.Shared, "realclient", "captured-announces.txt");

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
        var requests = Requests().Count;

        Assert.True(requests >= 10, $"only {requests} captured requests found");
    }

    [Theory]
    [MemberData(nameof(Requests))]
    public void Parse_CapturedRequest_Succeeds(int index, string requestLine)
    {
        var target = requestLine.Split(' ')[1];
        var query = target[(target.IndexOf('?') + 1)..];
        var declaredHashes = DeclaredHash().Matches(File.ReadAllText(CaptureFile)).Select(m => m.Groups[1].Value).ToHashSet();

        var ok = AnnounceQueryParser.TryParse(Encoding.ASCII.GetBytes(query), false, out var parsed, out var failure);

        Assert.True(ok, $"request {index}: {failure}");
        Assert.Contains(parsed.InfoHash.ToGrainKey(), declaredHashes);
        var peerId = Encoding.Latin1.GetString(parsed.PeerId.Value.ToArray());
        Assert.Contains(KnownClientPrefixes, prefix => peerId.StartsWith(prefix, StringComparison.Ordinal));
        Assert.Equal(int.Parse(PortParameter().Match(query).Groups[1].Value), parsed.Port);
        Assert.Equal(long.Parse(LeftParameter().Match(query).Groups[1].Value), parsed.Left);
    }

    [GeneratedRegex("info_hash hex ([0-9a-f]{40})")]
    private static partial Regex DeclaredHash();

    [GeneratedRegex("(?:^|&)port=([0-9]+)")]
    private static partial Regex PortParameter();

    [GeneratedRegex("(?:^|&)left=([0-9]+)")]
    private static partial Regex LeftParameter();
}
