namespace Chihaya.Orleans.Grains.Tests.Serialization;

/// <summary>
/// Version skew: during a rolling upgrade silos, gateways and clients of two versions call each other, so every
/// message must mean the same to both. The code's wire contract must match the committed one in
/// <c>wire-contract.txt</c>, whose keys (member ids, enum numbers, method aliases) never change meaning.
/// </summary>
public sealed class WireContractTests
{
    [Fact]
    public void TheCodeKeepsEveryRecordedWireKeyAndTheFileListsEveryOneInUse()
    {
        var (current, problems) = WireContract.FromCode();
        var recorded = File.Exists(WireContract.FilePath)
            ? WireContract.Parse(File.ReadAllText(WireContract.FilePath))
            : new WireContract([]);
        var (violations, updated) = recorded.Compare(current);
        var broken = problems.Concat(violations).ToList();

        Assert.True(broken.Count == 0, $"""
            The code breaks the wire contract that lets two versions run side by side (a rolling upgrade):
            {string.Join("\n", broken.Select(problem => "  * " + problem))}
            These are fixed in the code, not in {WireContract.FilePath}. See "Rolling upgrades and version skew" in deploy/README.md.
            """);

        var expected = updated.Format();
        if (expected == recorded.Format())
        {
            return;
        }

        if (Environment.GetEnvironmentVariable(WireContract.UpdateVariable) == "1")
        {
            File.WriteAllText(WireContract.FilePath, expected);
            return;
        }

        Assert.Fail($"""
            The wire contract file is out of date: the code adds or removes wire members, enum values, methods or types.
            That is allowed, but it must be recorded (removed ones stay, marked retired, so their ids are never reused).
            Run
              {WireContract.UpdateVariable}=1 dotnet test tests/Grains.Tests -c Release --filter WireContractTests
            review the diff of {WireContract.FilePath} and commit it with your change. Lines that differ (- file, + code):
            {Diff(recorded.Format(), expected)}
            """);
    }

    [Fact]
    public void AChangedIdIsAViolation_NotSomethingTheFileAbsorbs()
    {
        var recorded = new WireContract([
            new("type Chihaya.Example", "", "Example", false),
            new("type Chihaya.Example", "id 0", "Count: int", false),
            new("type Chihaya.Example", "id 1", "Name: string", true),
            new("enum Chihaya.Kind", "value 1", "First: byte", false),
        ]);
        var current = new WireContract([
            new("type Chihaya.Example", "", "Example", false),
            new("type Chihaya.Example", "id 0", "Count: long", false),
            new("type Chihaya.Example", "id 1", "Title: string", false),
            new("enum Chihaya.Kind", "value 2", "First: byte", false),
        ]);

        var (violations, _) = recorded.Compare(current);

        Assert.Contains(violations, violation => violation.Contains("id 0 is \"Count: int\"", StringComparison.Ordinal));
        Assert.Contains(violations, violation => violation.Contains("id 1 belonged to \"Name: string\"", StringComparison.Ordinal));
        Assert.Contains(violations, violation => violation.Contains("First was value 1", StringComparison.Ordinal));
    }

    [Fact]
    public void ARemovedMemberStaysInTheFileRetired_AndMayReturnOnlyAsItWas()
    {
        var recorded = new WireContract([
            new("type Chihaya.Example", "", "Example", false),
            new("type Chihaya.Example", "id 0", "Count: int", false),
            new("type Chihaya.Example", "id 1", "Name: string", false),
        ]);
        var withoutName = new WireContract([
            new("type Chihaya.Example", "", "Example", false),
            new("type Chihaya.Example", "id 0", "Count: int", false),
        ]);

        var (violations, updated) = recorded.Compare(withoutName);

        Assert.Empty(violations);
        Assert.Contains(new ContractEntry("type Chihaya.Example", "id 1", "Name: string", Retired: true), updated.Entries);
        Assert.Empty(updated.Compare(recorded).Violations);
    }

    private static string Diff(string before, string after)
    {
        var old = before.Split('\n').ToHashSet(StringComparer.Ordinal);
        var now = after.Split('\n').ToHashSet(StringComparer.Ordinal);
        return string.Join("\n", before.Split('\n').Where(line => !now.Contains(line)).Select(line => "- " + line)
            .Concat(after.Split('\n').Where(line => !old.Contains(line)).Select(line => "+ " + line)));
    }
}
