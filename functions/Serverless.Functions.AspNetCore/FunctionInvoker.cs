using System.Reflection;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Serverless.Functions.AspNetCore;

/// <summary>
/// Calls a function method as the Functions worker does: the class built from DI for each invocation,
/// parameters bound from the trigger, route or blob-path values, and the cancellation token.
/// </summary>
internal sealed class FunctionInvoker
{
    private readonly FunctionMethod _function;
    private readonly ObjectFactory _factory;

    public FunctionInvoker(FunctionMethod function)
    {
        _function = function;
        _factory = ActivatorUtilities.CreateFactory(function.Type, Type.EmptyTypes);
        foreach (var parameter in function.Method.GetParameters())
        {
            if (parameter != function.TriggerParameter && parameter.ParameterType != typeof(string) && parameter.ParameterType != typeof(CancellationToken))
            {
                throw new NotSupportedException($"function '{function.Name}': the local host cannot bind parameter '{parameter.Name}' of type {parameter.ParameterType.Name}");
            }
        }
    }

    public string Name => _function.Name;

    /// <summary>Invokes the method; returns what it returned, awaited.</summary>
    public async Task<object?> InvokeAsync(IServiceProvider services, object trigger, Func<string, string?> bindingValue, CancellationToken cancellationToken)
    {
        var parameters = _function.Method.GetParameters();
        var args = new object?[parameters.Length];
        for (var i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i];
            args[i] = p == _function.TriggerParameter ? trigger
                : p.ParameterType == typeof(CancellationToken) ? cancellationToken
                : bindingValue(p.Name!);
        }

        var instance = _function.Method.IsStatic ? null : _factory(services, null);
        try
        {
            object? returned;
            try
            {
                returned = _function.Method.Invoke(instance, args);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                ExceptionDispatchInfo.Throw(e.InnerException);
                throw;
            }

            switch (returned)
            {
                case Task task:
                    await task.ConfigureAwait(false);
                    var resultProperty = task.GetType().GetProperty("Result");
                    return task.GetType().IsGenericType ? resultProperty?.GetValue(task) : null;
                case ValueTask valueTask:
                    await valueTask.ConfigureAwait(false);
                    return null;
                default:
                    return returned;
            }
        }
        finally
        {
            (instance as IDisposable)?.Dispose();
        }
    }

    /// <summary>Writes what an HTTP function returned to the response.</summary>
    public static async Task WriteResultAsync(HttpContext context, object? result)
    {
        switch (result)
        {
            case IActionResult action:
                await action.ExecuteResultAsync(new ActionContext(context, context.GetRouteData(), new ActionDescriptor())).ConfigureAwait(false);
                break;
            case IResult httpResult:
                await httpResult.ExecuteAsync(context).ConfigureAwait(false);
                break;
            case null:
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                break;
            default:
                throw new NotSupportedException($"the local host cannot write a result of type {result.GetType().Name}");
        }
    }
}
