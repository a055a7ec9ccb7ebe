using Chihaya.Orleans.Grains.Users;

namespace Chihaya.Orleans.Grains.Tests.Users;

public sealed class GroupCommitTests
{
    [Fact]
    public async Task CommitAsync_ChangesDuringAWrite_GoIntoTheNextWriteAndCallersWaitForIt()
    {
        var value = 0;
        var written = new List<int>();
        var firstWrite = new TaskCompletionSource();
        var firstSnapshotTaken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writes = 0;
        var commit = new GroupCommit(async () =>
        {
            var snapshot = value;
            if (++writes == 1)
            {
                firstSnapshotTaken.SetResult();
                await firstWrite.Task;
            }

            written.Add(snapshot);
        });

        value = 1;
        var first = commit.CommitAsync();
        await firstSnapshotTaken.Task;
        value = 2;
        var second = commit.CommitAsync();
        value = 3;
        var third = commit.CommitAsync();   // joins the second write

        Assert.False(second.IsCompleted);
        firstWrite.SetResult();
        await Task.WhenAll(first, second, third);

        Assert.Same(second, third);
        Assert.Equal([1, 3], written);
    }

    [Fact]
    public async Task CommitAsync_WriteFails_CallersSeeItAndTheNextCommitTriesAgain()
    {
        var fail = true;
        var commit = new GroupCommit(() => fail ? throw new IOException("storage down") : Task.CompletedTask);

        await Assert.ThrowsAsync<IOException>(commit.CommitAsync);
        fail = false;
        await commit.CommitAsync();
    }
}
