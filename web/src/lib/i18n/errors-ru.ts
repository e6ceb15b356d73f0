/**
 * Server error codes in Russian. The English originals are core's registry (`ERROR_CODES`); the
 * compiler holds this table to its codes and to each template's placeholders.
 */
import type { ERROR_CODES } from '@expressionist/core';
import { defineMessages } from './types';

/** Each code's English template, as a type: what a translation is checked against. */
export type ErrorTemplates = {
  [C in keyof typeof ERROR_CODES]: (typeof ERROR_CODES)[C]['message'];
};

export const ruErrors = defineMessages<ErrorTemplates>()({
  EXPR_EMPTY: 'Выражение пустое',
  EXPR_UNEXPECTED_CHAR: 'Неожиданный символ {char} в столбце {column}',
  EXPR_UNEXPECTED_END: 'Выражение оборвалось в столбце {column}: {expected}',
  EXPR_UNEXPECTED_TOKEN: 'Неожиданный {char} в столбце {column}: {expected}',
  EXPR_MISSING_OPERATOR: 'Пропущен оператор перед {char} в столбце {column}',
  EXPR_UNCLOSED_PAREN: "Скобка '(' в столбце {column} не закрыта",
  EXPR_UNMATCHED_PAREN: "Лишняя ')' в столбце {column}: нет '(', которую она закрывает",
  EXPR_BAD_NUMBER: 'Неверное число в столбце {column}: {reason}',
  EXPR_TOO_LONG: 'Выражение длиной {length} символов; наибольшая длина — {max}',
  EXPR_TOO_DEEP: 'Скобки и знаки вложены глубже {max} уровней в столбце {column}',
  EXPR_DIV_ZERO: "Деление на ноль в столбце {column}: делитель '/' в «{snippet}» равен 0.",
  EXPR_RESULT_TOO_LARGE: 'Операция {op} в столбце {column}: {reason}.',
  EXPR_OP_FAILED:
    'Операция {op} в столбце {column} не удалась за {attempts} попыток (последняя: {reason}).',
  EXPR_CANCELED: 'Отменено по запросу.',
  BODY_INVALID: 'Неверный запрос: {reason}',
  BODY_TOO_LARGE: 'Тело запроса больше допустимого.',
  QUERY_INVALID: 'Неверные параметры запроса: {reason}',
  REQUEST_TARGET_INVALID:
    'Адрес запроса должен быть путём, начинающимся с «/» (сервер — не прокси).',
  NOT_FOUND: 'Нет маршрута {method} {path}.',
  EXPRESSION_NOT_FOUND: 'Нет выражения с id «{id}».',
  IDEMPOTENCY_CONFLICT: 'Id «{id}» уже использован для другого выражения.',
  ALREADY_FINISHED: 'Выражение «{id}» уже завершено ({status}).',
  EXPRESSION_RUNNING: 'Выражение «{id}» ещё считается: сначала отмените его, потом удалите.',
  SETTINGS_INVALID: 'Неверные настройки: {reason}',
  TASK_NOT_FOUND: 'Задача не найдена: {reason}',
  TASK_RESULT_INVALID: 'Неверный результат задачи: {reason}',
  TASK_RESULT_WRONG: 'Неправильный результат задачи: {reason}',
  AGENT_QUARANTINED: 'Агент на карантине: {reason}. Администратор может его снять.',
  AGENT_ID_TAKEN:
    'Id агента «{id}» занят другим агентом (или гостевым подключением); выберите другой.',
  AGENT_ADMISSION_BUSY:
    'Слишком много агентов подключается одновременно (оркестратор принимает {rate} в секунду); повторите в течение {seconds} с.',
  AGENT_NOT_QUARANTINED: 'Нет агента на карантине с id «{id}».',
  AGENT_NOT_CONNECTED: 'Нет подключённого агента с id «{id}».',
  UNAUTHENTICATED: 'Сначала войдите: {reason}',
  FORBIDDEN: 'Только администратор может {action}.',
  LOGIN_FAILED: 'Неверный логин или пароль.',
  LOGIN_TAKEN: 'Логин «{login}» занят.',
  ACCOUNT_INVALID: 'Неверные данные учётной записи: {reason}',
  SETUP_INVALID: 'Ссылка настройки недействительна (уже использована, или администратор уже есть).',
  CREDENTIAL_NOT_FOUND: 'Нет учётных данных агента с id «{id}».',
  ACCOUNT_DISABLED: 'Учётная запись отключена; обратитесь к администратору.',
  PASSWORD_WRONG: 'Текущий пароль неверен.',
  USER_NOT_FOUND: 'Нет пользователя с id «{id}».',
  USER_SELF: 'Администратор не может {action} свою учётную запись.',
  RATE_LIMITED: 'Слишком много запросов ({what}); повторите через {seconds} с.',
  AGENT_PROTOCOL_MISMATCH:
    'Оркестратор говорит на протоколе агентов {expected}, агент — на {got}. Обновите агента (пересоберите agent-node или перезагрузите вкладку).',
  STORE_UNAVAILABLE: 'База данных недоступна; {what} Повторите позже.',
  LEADER_UNAVAILABLE:
    'Сейчас ни один экземпляр оркестратора не ведущий ({reason}); ничего не принято. Повторите через несколько секунд.',
  SHUTTING_DOWN: 'Оркестратор останавливается.',
  INTERNAL: 'Непредвиденная ошибка сервера.',
});

/**
 * Russian for the fixed English phrases the server puts into parameters (the parser's reasons,
 * the actions only an admin may take). A value not listed here is shown as the server sent it.
 */
export const ruWords: Readonly<Record<string, string>> = {
  "expected a number, '(' or a sign": "ожидалось число, '(' или знак",
  'a number has at most one decimal point': 'в числе не больше одной десятичной точки',
  'a decimal point must be followed by digits': 'после десятичной точки нужны цифры',
  "see everyone's expressions": 'видеть выражения всех',
  'change settings': 'менять настройки',
  'manage agents': 'управлять агентами',
  'manage agent credentials': 'управлять учётными данными агентов',
  'manage users': 'управлять пользователями',
  'read metrics': 'читать метрики',
};
