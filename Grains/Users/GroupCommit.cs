namespace Chihaya.Orleans.Grains.Users;

/// <summary>
/// Makes many changes durable with few writes: every caller awaits the next write that starts after its
/// change, and changes made while a write runs share the write after it. One grain's turns are
/// single-threaded, so no lock is needed.
/// </summary>
internal sealed class GroupCommit(Func<Task> write)
{
    private Task _running = Task.CompletedTask;
    private TaskCompletionSource? _next;

    /// <summary>Completes when everything changed before this call is written; faults when that write fails.</summary>
    public Task CommitAsync()
    {
        if (_next is { } scheduled)
        {
            return scheduled.Task;
        }

        var next = _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _running = RunAsync(_running, next);
        return next.Task;
    }

    private async Task RunAsync(Task previous, TaskCompletionSource next)
    {
        try
        {
            await previous;
        }
        catch (Exception)
        {
            // The previous write's callers saw its failure; this write is tried afresh.
        }

        // Let changes already queued join this write before its snapshot is taken.
        await Task.Yield();
        _next = null;
        try
        {
            await write();
            next.SetResult();
        }
        catch (Exception exception)
        {
            next.SetException(exception);
        }
    }
}
